using TorchDistortion.Measurement;

namespace TorchDistortion.Tests.Measurement;

public class SummaryTests
{
    private static readonly double[] Values = [0.5, 1.0, 2.0, 4.0, 0.25, 3.0, 1.5];

    [Fact]
    public void MatchesDirectComputation()
    {
        var s = Summary.FromLog(Values.Select(v => Math.Log(v)).ToArray(), maxMoment: 3, quantiles: [0.0, 0.25, 1.0]);
        double mean = Values.Average();
        double variance = Values.Sum(v => (v - mean) * (v - mean)) / (Values.Length - 1);
        Assert.Equal(mean, s.Mean, 12);
        Assert.Equal(Math.Sqrt(variance), s.Std, 12);
        Assert.Equal(Math.Sqrt(variance / Values.Length), s.StdErr, 12);
        Assert.Equal(1.5, s.Median, 12);
        Assert.Equal(0.25, s.Quantiles[0].Value, 12);
        Assert.Equal(0.75, s.Quantiles[1].Value, 12); // type 7: between 0.5 and 1.0 at position 1.5
        Assert.Equal(4.0, s.Quantiles[2].Value, 12);
        Assert.Equal(Values.Average(v => v * v * v), s.Moments[2].Value, 10);
        Assert.Equal(Values.Average(v => Math.Log(v)), s.MeanLog, 12);
    }

    [Fact]
    public void ScalesFarOutsideTheDoubleRangeKeepTheirDigits()
    {
        // Multiply every value by e^600 (beyond double range when squared): log moments shift by m * 600 exactly.
        var plain = Summary.FromLog(Values.Select(v => Math.Log(v)).ToArray(), maxMoment: 4);
        var huge = Summary.FromLog(Values.Select(v => Math.Log(v) + 600).ToArray(), maxMoment: 4);
        var tiny = Summary.FromLog(Values.Select(v => Math.Log(v) - 600).ToArray(), maxMoment: 4);
        for (int m = 1; m <= 4; m++)
        {
            Assert.Equal(plain.Moments[m - 1].LogValue + 600 * m, huge.Moments[m - 1].LogValue, 9);
            Assert.Equal(plain.Moments[m - 1].LogValue - 600 * m, tiny.Moments[m - 1].LogValue, 9);
        }
        Assert.True(tiny.Mean > 0);
        // Quantiles, median and std shift the same way in log space; plain values beyond the double range are NaN, never infinity or 0.
        for (int i = 0; i < plain.Quantiles.Count; i++) Assert.Equal(Math.Log(plain.Quantiles[i].Value) + 600, huge.Quantiles[i].LogValue, 9);
        Assert.Equal(Math.Log(plain.Median) - 600, tiny.LogMedian, 9);
        Assert.Equal(Math.Log(plain.Std) + 600, huge.LogStd, 9);
        Assert.True(double.IsNaN(huge.Moments[1].Value) && double.IsNaN(tiny.Moments[1].Value));
        Assert.Equal(0, Summary.ExpInRange(double.NegativeInfinity));
        Assert.Equal(Math.E, Summary.ExpInRange(1), 15);
    }

    [Fact]
    public void ZeroDistortionsAreCountedAndKeptInTheMean()
    {
        var s = Summary.FromLog([Math.Log(2.0), double.NegativeInfinity, Math.Log(4.0)], maxMoment: 2);
        Assert.Equal(1, s.Zeros);
        Assert.Equal(2.0, s.Mean, 12);
        Assert.True(double.IsNegativeInfinity(s.MeanLog));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => Summary.FromLog([]));
        Assert.Equal("moments", Assert.Throws<SettingException>(() => Summary.FromLog([0.0], maxMoment: 0)).Setting);
        Assert.Equal("quantiles", Assert.Throws<SettingException>(() => Summary.FromLog([0.0], quantiles: [1.5])).Setting);
    }
}
