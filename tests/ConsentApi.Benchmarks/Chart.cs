using ScottPlot;

namespace ConsentApi.Benchmarks;

/// <summary>Draws each scenario's rps as a ratio of its baseline, with its target where issue 5 sets one.</summary>
internal static class Chart
{
    public static void Draw(BenchResults results, string path)
    {
        var rows = results.Scenarios.Where(s => s.Ratio is not null).ToList();
        var plot = new Plot();
        var bars = rows.Select((s, i) => new Bar
        {
            Position = i,
            Value = s.Ratio!.Value,
            Label = s.Ratio!.Value.ToString(s.Ratio!.Value < 0.1 ? "0.000" : "0.00", System.Globalization.CultureInfo.InvariantCulture),
            FillColor = s.Met switch { true => Colors.SeaGreen, false => Colors.IndianRed, null => Colors.SteelBlue },
        }).ToList();
        plot.Add.Bars(bars);

        var targets = rows.Select((s, i) => (s, i)).Where(x => x.s.Target is not null).ToList();
        if (targets.Count > 0)
        {
            var marks = plot.Add.ScatterPoints(targets.Select(x => (double)x.i).ToArray(), targets.Select(x => x.s.Target!.Value).ToArray());
            marks.MarkerShape = MarkerShape.HorizontalBar;
            marks.MarkerSize = 40;
            marks.MarkerLineWidth = 3;
            marks.Color = Colors.Black;
            marks.LegendText = "target";
        }

        plot.Axes.Bottom.SetTicks(rows.Select((_, i) => (double)i).ToArray(),
            rows.Select(Label).ToArray());
        plot.Axes.Bottom.MinimumSize = 110;
        plot.Axes.Margins(bottom: 0);
        plot.Title($"ConsentApi: rps ÷ baseline rps, same run ({results.Mode}, {results.StartedAt:yyyy-MM-dd})");
        plot.YLabel("ratio to baseline");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1200, 650);
    }

    /// <summary>One phrase a line: "save, 1 decision" over "vs raw Npgsql insert".</summary>
    private static string Label(ScenarioResult s) =>
        string.Join('\n', s.Name.Replace(" (", ", ", StringComparison.Ordinal).TrimEnd(')').Split(", "))
        + "\nvs " + s.Baseline!.Replace("baseline: ", "", StringComparison.Ordinal);
}
