using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;

namespace TorchDistortion.Tests.Measurement;

/// <summary>The statistic behind `reproduce`'s verdicts, on a case small enough to compute by hand.</summary>
public class TheoryComparisonTests
{
    [Fact]
    public void ExactStandardErrorAndZMatchAHandComputedOneLayerCase()
    {
        // One layer 1 -> 1 with C_out = 1: D = |W| at a point, W ~ N(0, 1). So E[D] = sqrt(2/pi), E[D^2] = 1, E[D^4] = 3.
        var spec = new NetworkSpec([1, 1], InitScheme.He, OutputVariance: 1.0);
        double[] d = [0.5, 1.0, 1.5, 2.0];
        int n = d.Length;
        var summary = Summary.FromLog(d.Select(v => Math.Log(v)).ToArray(), maxMoment: 2);
        var rows = TheoryComparison.Build(spec, new GeometrySpec(GeometryKind.Segment, Points: 1), summary).Rows;

        double mean = 1.25, meanTheory = Math.Sqrt(2 / Math.PI);
        double sampleStdErr = Math.Sqrt((0.75 * 0.75 + 0.25 * 0.25 + 0.25 * 0.25 + 0.75 * 0.75) / (n - 1) / n);
        double exactStdErr = Math.Sqrt((1 - 2 / Math.PI) / n);
        Assert.Equal("=", rows[0].Relation);
        Assert.Equal(1.0, rows[0].Theory / meanTheory, 14);
        Assert.Equal(1.0, rows[0].ExactStdErr / exactStdErr, 13);
        Assert.Equal((mean - meanTheory) / exactStdErr, rows[0].ZExact, 12);
        Assert.Equal((mean - meanTheory) / sampleStdErr, rows[0].Z, 12);

        // m = 2: the sample mean of D^2 is 1.875, its exact standard error sqrt((E[D^4] - E[D^2]^2) / n) = sqrt(2 / 4).
        Assert.Equal(1.0, rows[1].Theory, 13);
        Assert.Equal(Math.Sqrt(2.0 / n), rows[1].ExactStdErr, 13);
        Assert.Equal((1.875 - 1) / Math.Sqrt(2.0 / n), rows[1].ZExact, 12);
    }
}
