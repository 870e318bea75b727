using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace ConsentApi.Benchmarks;

/// <summary>One wrk run's figures.</summary>
internal sealed record WrkRun(double Rps, double P50Ms, double P99Ms, long Requests, long Errors);

/// <summary>Runs wrk (one thread: the client shares the machine's cores with the server and the database) and reads its report.</summary>
internal static partial class Wrk
{
    public static async Task<WrkRun> RunAsync(string url, int connections, int seconds, string? script,
        IReadOnlyDictionary<string, string> environment, string apiKey)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-t1", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s", "--latency", "-H", $"X-Api-Key: {apiKey}" })
        {
            start.ArgumentList.Add(argument);
        }

        if (script is not null)
        {
            start.ArgumentList.Add("-s");
            start.ArgumentList.Add(script);
        }

        start.ArgumentList.Add(url);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk failed ({process.ExitCode}): {await errors}{await output}");
        }

        return Parse(await output);
    }

    /// <summary>Reads "Requests/sec:", the --latency percentiles, "N requests in", "Non-2xx or 3xx responses:" and socket errors.</summary>
    public static WrkRun Parse(string report)
    {
        double Number(Regex pattern) =>
            pattern.Match(report) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

        var non2xx = (long)Number(Non2xx());
        var socket = Socket().Match(report);
        var socketErrors = socket.Success ? Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value, CultureInfo.InvariantCulture)) : 0;
        return new WrkRun(Number(RequestsPerSecond()), Latency(report, "50"), Latency(report, "99"),
            (long)Number(Requests()), non2xx + socketErrors);
    }

    private static double Latency(string report, string percentile)
    {
        var m = Regex.Match(report, $@"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        if (!m.Success)
        {
            return double.NaN;
        }

        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => value / 1000, "ms" => value, "s" => value * 1000, _ => value * 60_000 };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex Requests();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex Socket();
}
