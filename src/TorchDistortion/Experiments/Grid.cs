using System.Numerics;

namespace TorchDistortion.Experiments;

/// <summary>
/// The runs a sweep declares, measurement or training: named axes, each a list of values, whose product is the set of
/// runs, the first axis outermost. An axis may apply only at some values of one earlier axis (C_W only for the init
/// schemes that take one, k only for patches): where it does not apply it takes its first value once instead of
/// multiplying the runs. One declaration, one count before expansion, one cap.
/// </summary>
public sealed class Grid
{
    private sealed record Axis(string Name, IReadOnlyList<object?> Values, int On, Func<object?, bool>? Applies);

    private readonly List<Axis> _axes = [];
    private readonly bool _refuseDuplicates;

    /// <param name="refuseDuplicates">A value given twice in one list is an error (training); otherwise the
    /// repeated runs are left to the caller, who drops them by run id (measurement sweeps always have).</param>
    public Grid(bool refuseDuplicates) => _refuseDuplicates = refuseDuplicates;

    /// <summary>Adds an axis; <paramref name="name"/> is the setting the errors name. <paramref name="key"/> says when two values are the same.</summary>
    public Grid Add<T>(string name, IReadOnlyList<T> values, Func<T, object?>? key = null)
    {
        if (values.Count == 0) throw new SettingException(name, ": must not be an empty list");
        if (_refuseDuplicates)
        {
            var seen = new HashSet<object?>();
            foreach (var v in values)
                if (!seen.Add(key is null ? v : key(v)))
                    throw new SettingException(name, $": each value once; '{(v is null ? "null" : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))}' is given twice");
        }
        _axes.Add(new Axis(name, values.Cast<object?>().ToList(), -1, null));
        return this;
    }

    /// <summary>Adds an axis that varies only where <paramref name="applies"/> holds for the value of the earlier axis <paramref name="on"/>.</summary>
    public Grid Add<T, TOn>(string name, IReadOnlyList<T> values, string on, Func<TOn, bool> applies)
    {
        int index = _axes.FindIndex(a => a.Name == on);
        if (index < 0) throw new InvalidOperationException($"axis {name} depends on {on}, which is not an earlier axis");
        Add(name, values);
        _axes[^1] = _axes[^1] with { On = index, Applies = v => applies((TOn)v!) };
        return this;
    }

    /// <summary>The number of runs, before expansion: exact for the grid (runs the caller finds equal are counted apart).</summary>
    public BigInteger Count()
    {
        BigInteger count = 1;
        var dependent = _axes.Where(a => a.Applies is not null).ToList();
        for (int i = 0; i < _axes.Count; i++)
        {
            if (_axes[i].Applies is not null) continue;
            var onThis = dependent.Where(d => d.On == i).ToList();
            count *= onThis.Count == 0 ? _axes[i].Values.Count
                : _axes[i].Values.Aggregate(BigInteger.Zero, (sum, v) => sum + onThis.Aggregate(BigInteger.One, (p, d) => p * (d.Applies!(v) ? d.Values.Count : 1)));
        }
        return count;
    }

    /// <summary>Refuses a grid of more than <paramref name="maxRuns"/> runs, before any is expanded.</summary>
    public Grid Cap(string source, long maxRuns)
    {
        var count = Count();
        if (count > maxRuns)
            throw new ArgumentException($"{source}: the sweep has {count} runs, above the cap of {maxRuns}; narrow it or raise the cap with --max-runs");
        return this;
    }

    /// <summary>Every point of the product, in order, the last axis innermost.</summary>
    public IEnumerable<Point> Points()
    {
        var values = new object?[_axes.Count];
        var applies = new bool[_axes.Count];
        IEnumerable<Point> From(int axis)
        {
            if (axis == _axes.Count)
            {
                yield return new Point(_axes.Select(a => a.Name).ToArray(), (object?[])values.Clone(), (bool[])applies.Clone());
                yield break;
            }
            var a = _axes[axis];
            applies[axis] = a.Applies is null || a.Applies(values[a.On]);
            foreach (var v in applies[axis] ? a.Values : a.Values.Take(1))
            {
                values[axis] = v;
                foreach (var p in From(axis + 1)) yield return p;
            }
        }
        return From(0);
    }

    /// <summary>One run's values, by axis name.</summary>
    public sealed class Point(string[] names, object?[] values, bool[] applies)
    {
        public T Get<T>(string name) => (T)values[Index(name)]!;

        /// <summary>Whether the axis varies at this point (false: it does not apply, and holds its first value).</summary>
        public bool Applies(string name) => applies[Index(name)];

        private int Index(string name) => Array.IndexOf(names, name) is int i and >= 0 ? i : throw new KeyNotFoundException(name);
    }
}
