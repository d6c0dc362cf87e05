using TorchDistortion.Networks;

namespace TorchDistortion.Theory;

// Placeholder until the mean-field branch lands (merge takes that file and keeps CriticalVariance).
public static partial class MeanField
{
    internal static double CriticalVariance(SmoothActivation activation, double biasVariance) => throw new NotImplementedException();
}
