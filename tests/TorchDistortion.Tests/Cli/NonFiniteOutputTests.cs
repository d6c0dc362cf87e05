using System.Globalization;
using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using TorchDistortion.Theory;

namespace TorchDistortion.Tests.Cli;

/// <summary>Item: a number in a file is a number, null (JSON) or empty (CSV), never "NaN" or "Infinity", and never silent.</summary>
public class NonFiniteOutputTests
{
    private static readonly string[] NamedLiterals = ["NaN", "Infinity", "-Infinity", "∞"];

    /// <summary>The CSV as rows of cells by column name; every cell but statistic and relation is a number or empty.</summary>
    private static List<Dictionary<string, string>> ParseCsv(string csv)
    {
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
        foreach (var row in rows)
            foreach (var (column, cell) in row)
                if (Array.IndexOf(header, column) > Array.IndexOf(header, "statistic") && column != "relation" && cell.Length > 0)
                    Assert.True(double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v), $"{column} = '{cell}'");
        return rows;
    }

    [Fact]
    public void CsvBeyondTheDoubleRangeHasEmptyCellsWithLogsBesideThemAndANote()
    {
        var result = CliRunner.Run("measure", "--init", "variance", "--cw", "100", "--depth", "200", "--width", "64", "--format", "csv", "--networks", "30", "--points", "4");
        Assert.Equal(0, result.ExitCode);
        foreach (var literal in NamedLiterals) Assert.DoesNotContain(literal, result.Stdout);
        var rows = ParseCsv(result.Stdout).ToDictionary(r => r["statistic"]);
        // E[D^2] is about 1e+337: no double holds it, its log does; the exact log comes from the theory itself.
        var second = rows["E[D^2]"];
        Assert.Equal("", second["value"]);
        Assert.Equal("", second["theory"]);
        var widths = NetworkSpec.Shorthand(width: 64, depth: 200);
        var variances = new NetworkSpec(widths, InitScheme.Parse("variance", 100)).LayerVariances();
        double logTheory = ExactTheory.LogMoment(widths, variances, 1, 2);
        Assert.True(logTheory > Math.Log(double.MaxValue));
        Assert.Equal(logTheory, double.Parse(second["log_theory"], CultureInfo.InvariantCulture), 9);
        Assert.True(double.Parse(second["log_value"], CultureInfo.InvariantCulture) > 700);
        // The mean is in range: its plain and log columns agree.
        var mean = rows["mean"];
        Assert.Equal(Math.Log(double.Parse(mean["value"], CultureInfo.InvariantCulture)), double.Parse(mean["log_value"], CultureInfo.InvariantCulture), 9);
        Assert.Contains("note: beyond the double range", result.Stderr);
        Assert.Contains("E[D^2]", result.Stderr);
    }

    [Fact]
    public void JsonNumbersAreNumbersOrNullNeverStrings()
    {
        foreach (var args in new[]
        {
            new[] { "--init", "variance", "--cw", "4", "--depth", "300", "--width", "8" },
            ["--depth", "1", "--networks", "20"],
        })
        {
            var result = CliRunner.Run(["measure", .. args, "--format", "json"]);
            Assert.Equal(0, result.ExitCode);
            using var document = JsonDocument.Parse(result.Stdout);
            var root = document.RootElement;
            var strings = new List<string>();
            void Walk(JsonElement e, string path)
            {
                switch (e.ValueKind)
                {
                    case JsonValueKind.Object: foreach (var p in e.EnumerateObject()) Walk(p.Value, $"{path}.{p.Name}"); break;
                    case JsonValueKind.Array: int i = 0; foreach (var item in e.EnumerateArray()) Walk(item, $"{path}[{i++}]"); break;
                    case JsonValueKind.String when NamedLiterals.Contains(e.GetString()): strings.Add(path); break;
                }
            }
            Walk(root, "");
            Assert.Empty(strings);
            // Every statistic of a theory row is a number or null, and a null plain value has a reason: a note.
            foreach (var row in root.GetProperty("theory").GetProperty("rows").EnumerateArray())
                foreach (var field in new[] { "value", "std_err", "theory", "ratio", "ratio_std_err", "z", "exact_std_err", "z_exact", "log_value", "log_theory" })
                {
                    var kind = row.GetProperty(field).ValueKind;
                    Assert.True(kind is JsonValueKind.Number or JsonValueKind.Null, $"{field}: {kind}");
                    if (kind == JsonValueKind.Null) Assert.NotEqual(0, root.GetProperty("notes").GetArrayLength());
                }
            if (args[0] == "--depth")
                Assert.Equal(JsonValueKind.Null, root.GetProperty("theory").GetProperty("c_w").ValueKind); // no hidden layer: no C_W
            else
            {
                // 8 wide and 300 deep: most networks die (distortion 0), so mean log D is undefined, and said so.
                Assert.Equal(JsonValueKind.Null, root.GetProperty("summary").GetProperty("mean_log").ValueKind);
                Assert.True(root.GetProperty("summary").GetProperty("zeros").GetInt32() > 0);
                Assert.Contains(root.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("distortion exactly 0"));
                Assert.Contains("note:", result.Stderr);
            }
        }
    }

    [Fact]
    public void EveryVolumeZeroLeavesZUndefinedWithANoteNotMinusInfinity()
    {
        var csv = CliRunner.Run("measure", "--width", "3", "--depth", "5", "--geometry", "patch", "--k", "3", "--format", "csv");
        Assert.Equal(0, csv.ExitCode);
        foreach (var literal in NamedLiterals) Assert.DoesNotContain(literal, csv.Stdout);
        var rows = ParseCsv(csv.Stdout);
        // Width 3 with k = 3: a volume survives only if all 3 neurons of all 4 hidden layers are on (2^-12 per network).
        var mean = rows.Single(r => r["statistic"] == "mean");
        Assert.Equal("0", mean["value"]);
        Assert.Equal("", mean["z"]);
        Assert.Contains("distortion exactly 0", csv.Stderr);
        Assert.Contains("z of mean", csv.Stderr);

        var table = CliRunner.Run("measure", "--width", "3", "--depth", "5", "--geometry", "patch", "--k", "3");
        Assert.Equal(0, table.ExitCode);
        foreach (var literal in NamedLiterals) Assert.DoesNotContain(literal, table.Stdout);
        Assert.Contains("note: every one of the 200 networks has distortion exactly 0", table.Stdout.Replace("\n", ""));
    }

    [Fact]
    public void SweepCsvCellsAndResultJsonRoundTripNonFiniteValuesAsEmptyAndNull()
    {
        var converter = new JsonSerializerOptions { Converters = { new TorchDistortion.Output.Json.FiniteDouble() } };
        double[] values = [1.5, double.NaN, double.PositiveInfinity, -2e-300];
        string json = JsonSerializer.Serialize(values, converter);
        Assert.Equal("[1.5,null,null,-2E-300]", json);
        var back = JsonSerializer.Deserialize<double[]>(json, converter)!;
        Assert.Equal(1.5, back[0]);
        Assert.True(double.IsNaN(back[1]) && double.IsNaN(back[2]));
        // Files written before: the named literals still read.
        Assert.True(double.IsNegativeInfinity(JsonSerializer.Deserialize<double[]>("[\"-Infinity\"]", converter)![0]));
        Assert.Equal(["1.5", "", "", "-2E-300"], values.Select(v => Numbers.Csv(v)));
    }
}
