using TorchDistortion.Experiments;

namespace TorchDistortion.Tests.Experiments;

/// <summary>The shared declaration of sweeps: product order, settings that do not apply, the count before expansion, duplicates.</summary>
public sealed class GridTests
{
    private static Grid Example(bool refuseDuplicates = true) => new Grid(refuseDuplicates)
        .Add("init", new[] { "he", "variance", "orthogonal" })
        .Add<double, string>("C_W", new[] { 1.0, 2.0, 4.0 }, "init", init => init != "he")
        .Add("seed", new long[] { 0, 1 });

    [Fact]
    public void PointsAreTheProductFirstAxisOutermostWithAnAxisThatDoesNotApplyTakenOnce()
    {
        var points = Example().Points().Select(p => $"{p.Get<string>("init")}{(p.Applies("C_W") ? p.Get<double>("C_W").ToString() : "")}/{p.Get<long>("seed")}").ToList();
        Assert.Equal(["he/0", "he/1", "variance1/0", "variance1/1", "variance2/0", "variance2/1", "variance4/0", "variance4/1",
            "orthogonal1/0", "orthogonal1/1", "orthogonal2/0", "orthogonal2/1", "orthogonal4/0", "orthogonal4/1"], points);
        Assert.Equal(points.Count, (int)Example().Count());
    }

    [Fact]
    public void TheCapAndDuplicatesAreRefusedNamingTheSetting()
    {
        Assert.Contains("14 runs", Assert.Throws<ArgumentException>(() => Example().Cap("s.json", 13)).Message);
        Example().Cap("s.json", 14); // inclusive: exactly the cap passes
        var twice = Assert.Throws<SettingException>(() => new Grid(refuseDuplicates: true).Add("seed", new long[] { 3, 1, 3 }));
        Assert.Equal("seed", twice.Setting);
        Assert.Contains("'3'", twice.Message);
        Assert.Equal(3, (int)new Grid(refuseDuplicates: false).Add("seed", new long[] { 3, 1, 3 }).Count());
        Assert.Equal("C_W", Assert.Throws<SettingException>(() => new Grid(true).Add("C_W", Array.Empty<double>())).Setting);
    }
}
