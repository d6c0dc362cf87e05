namespace TorchDistortion.Theory;

/// <summary>
/// log(1+x) and e^x - 1 to a few ulps for small x. .NET's double.LogP1/ExpM1 compute log(x + 1) and exp(x) - 1 directly,
/// which lose every digit below 1e-16; these use the Goldberg and Kahan corrections (the rounding error of 1 + x, or of
/// e^x, divides out).
/// </summary>
internal static class ExactMath
{
    public static double Log1P(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    public static double ExpM1(double x)
    {
        if (Math.Abs(x) > 0.5) return Math.Exp(x) - 1;
        double u = Math.Exp(x);
        return u == 1 ? x : (u - 1) * x / Math.Log(u);
    }
}
