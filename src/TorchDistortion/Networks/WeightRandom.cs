using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TorchDistortion.Networks;

/// <summary>
/// The random numbers of one network, from its own seed: init schemes fill their layers from it in order, so the network
/// depends on (seed, i) and the generator alone. Targets are contiguous float64 CPU tensors.
/// </summary>
internal abstract class WeightRandom : IDisposable
{
    /// <summary>Fills <paramref name="target"/> with N(0, std^2) draws.</summary>
    internal abstract void Normal(Tensor target, double std);

    /// <summary>Fills <paramref name="target"/> with U(low, high) draws.</summary>
    internal abstract void Uniform(Tensor target, double low, double high);

    public virtual void Dispose() { }

    internal static WeightRandom Create(WeightGenerator generator, ulong seed) => generator switch
    {
        WeightGenerator.Torch => new TorchRandom(seed),
        WeightGenerator.Ziggurat => new ZigguratRandom(seed),
        _ => throw new ArgumentOutOfRangeException(nameof(generator), generator, null),
    };

    /// <summary>libtorch's generator: the numbers of every earlier version.</summary>
    internal sealed class TorchRandom(ulong seed) : WeightRandom
    {
        internal Generator Generator { get; } = new(seed);
        internal override void Normal(Tensor target, double std) => target.normal_(0.0, std, Generator);
        internal override void Uniform(Tensor target, double low, double high) => target.uniform_(low, high, Generator);
        public override void Dispose() => Generator.Dispose();
    }

    /// <summary>
    /// xoshiro256++ with a 256-layer ziggurat for Gaussians (see <see cref="WeightGenerator.Ziggurat"/>). Its loops are
    /// compiled optimized at once: a process draws its networks once, mostly before tiered compilation would have replaced
    /// the first, unoptimized code (which drew 4x slower).
    /// </summary>
    internal sealed class ZigguratRandom : WeightRandom
    {
        private const double Ulp = 1.0 / (1UL << 53); // 2^-53: 53 random bits to a double in [0, 1)
        private ulong _s0, _s1, _s2, _s3;
        // The tables as instance fields: the optimized loops then read them without checking that Layers is initialized.
        private readonly double[] _x = Layers.X, _f = Layers.F, _ratio = Layers.Ratio;

        internal ZigguratRandom(ulong seed)
        {
            // SplitMix64 fills the state, as xoshiro's authors recommend: never all zero, and nearby seeds far apart.
            _s0 = SplitMix(ref seed); _s1 = SplitMix(ref seed); _s2 = SplitMix(ref seed); _s3 = SplitMix(ref seed);
        }

        private static ulong SplitMix(ref ulong x)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal ulong NextBits()
        {
            ulong result = BitOperations.RotateLeft(_s0 + _s3, 23) + _s0;
            ulong t = _s1 << 17;
            _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
            _s2 ^= t;
            _s3 = BitOperations.RotateLeft(_s3, 45);
            return result;
        }

        /// <summary>Uniform on (0, 1]: never 0, so its log is finite.</summary>
        private double NextOpenUnit() => ((NextBits() >> 11) + 1) * Ulp;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal override void Uniform(Tensor target, double low, double high)
        {
            var values = Values(target);
            double span = high - low;
            for (int j = 0; j < values.Length; j++) values[j] = low + span * ((NextBits() >> 11) * Ulp);
        }

        internal override void Normal(Tensor target, double std) => Normal(Values(target), std);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal void Normal(Span<double> values, double std)
        {
            for (int j = 0; j < values.Length; j++) values[j] = NextGaussian() * std;
        }

        /// <summary>The memory of a contiguous float64 CPU tensor of under 2 GiB.</summary>
        internal static Span<double> Values(Tensor target)
        {
            if (target.dtype != ScalarType.Float64 || target.device_type != TorchSharp.DeviceType.CPU || !target.is_contiguous() || target.numel() > int.MaxValue / 8)
                throw new ArgumentException("weights are drawn into contiguous float64 CPU tensors of under 2 GiB");
            return MemoryMarshal.Cast<byte, double>(target.bytes);
        }

        /// <summary>
        /// One N(0, 1) draw. The low 8 bits pick a layer of equal area under exp(-x^2/2), the top 54 a signed uniform across
        /// it; inside the layer's rectangle under the curve (about 99% of draws) that is the answer. Otherwise the wedge
        /// is decided against the density, and the base layer's overhang is the tail beyond R.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        internal double NextGaussian()
        {
            ulong bits = NextBits();
            int i = (int)(bits & 0xFF);
            double u = ((long)bits >> 10) * Ulp; // [-1, 1)
            return Math.Abs(u) < _ratio[i] ? u * _x[i] : Outside(i, u);
        }

        /// <summary>A draw outside layer i's inner rectangle: the tail, a wedge point accepted, or a fresh draw.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private double Outside(int i, double u)
        {
            while (true)
            {
                if (i == 0) return Tail(u < 0);
                double z = u * _x[i];
                // The wedge between the curve and layer i's inner rectangle: y uniform over the layer's height.
                if (_f[i] + NextOpenUnit() * (_f[i + 1] - _f[i]) < Math.Exp(-0.5 * z * z)) return z;
                ulong bits = NextBits();
                i = (int)(bits & 0xFF);
                u = ((long)bits >> 10) * Ulp;
                if (Math.Abs(u) < _ratio[i]) return u * _x[i];
            }
        }

        /// <summary>A draw beyond R, by Marsaglia's exponential rejection.</summary>
        private double Tail(bool negative)
        {
            double a, b;
            do
            {
                a = -Math.Log(NextOpenUnit()) / Layers.R;
                b = -Math.Log(NextOpenUnit());
            } while (b + b < a * a);
            return negative ? -(Layers.R + a) : Layers.R + a;
        }

        /// <summary>
        /// The 256 layers: R and the common area V solve the ziggurat's closing condition (computed to 40 digits). Layer 0 is
        /// the rectangle [0, R] x [0, f(R)] with the tail, given the width V / f(R); layer i >= 1 spans [0, x_i] between
        /// heights f(x_i) and f(x_{i+1}), with x_1 = R and x_256 = 0.
        /// </summary>
        private static class Layers
        {
            internal const double R = 3.6541528853610088;
            private const double V = 0.0049286732339746553;
            internal static readonly double[] X = new double[257];
            internal static readonly double[] F = new double[257];
            internal static readonly double[] Ratio = new double[256];

            static Layers()
            {
                X[0] = V / Math.Exp(-0.5 * R * R);
                X[1] = R;
                for (int i = 1; i < 255; i++) X[i + 1] = Math.Sqrt(-2.0 * Math.Log(Math.Exp(-0.5 * X[i] * X[i]) + V / X[i]));
                X[256] = 0.0;
                for (int i = 0; i <= 256; i++) F[i] = Math.Exp(-0.5 * X[i] * X[i]);
                for (int i = 0; i < 256; i++) Ratio[i] = X[i + 1] / X[i];
            }
        }
    }
}
