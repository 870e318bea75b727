using System.Globalization;
using System.Text.Json;

namespace ConsentApi.Benchmarks;

internal sealed record RunSettings(bool Full, string Api, string ApiUncached, string Baseline, string Key, string Out,
    double? IdleRssMb, IReadOnlyList<double> StartupMs)
{
    public int Warmup => Full ? 3 : 0;
    public int Runs => Full ? 5 : 1;
    public int Seconds => Full ? 10 : 2;
    public int Connections { get; init; } = 32;
    public int Customers => Full ? 1000 : 300;
    public int Events360 => Full ? 1000 : 50;
    public int Records360 => Full ? 10_000 : 200;

    public static RunSettings From(Arguments a) => new(
        a.Required("mode") switch { "full" => true, "smoke" => false, var m => throw new ArgumentException($"unknown mode {m}") },
        a.Required("api").TrimEnd('/'), a.Required("api-uncached").TrimEnd('/'), a.Required("baseline").TrimEnd('/'), a.Required("key"),
        a.Optional("out") ?? ".local/bench",
        a.Optional("idle-rss-mb") is { } rss ? double.Parse(rss, CultureInfo.InvariantCulture) : null,
        (a.Optional("startup-ms") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToList());
}

/// <summary>A load to measure: a URL, an optional Lua script, and the baseline its rps is divided by.</summary>
/// <param name="WarmupSeconds">In full mode, instead of the usual warm-up (for a node that has served nothing yet).</param>
internal sealed record Scenario(string Name, string Url, string? Script, string? Baseline, double? Target = null,
    int? Connections = null, Dictionary<string, string>? Environment = null, int? WarmupSeconds = null);

/// <summary>A scenario's medians (each figure the median of its own runs) and its standing against the baseline.</summary>
internal sealed record ScenarioResult(string Name, string Url, string? Baseline, int Connections, double Rps, double P50Ms, double P99Ms,
    long Requests, long Errors, double? Ratio, double? Target, bool? Met, IReadOnlyList<WrkRun> Runs);

/// <summary>A target that is not a throughput ratio: a latency, a memory size, a start-up time.</summary>
internal sealed record LimitResult(string Name, double Value, string Unit, double Limit, bool Met, string Note);

internal sealed record BenchResults(string Mode, DateTimeOffset StartedAt, int ProcessorCount, int WarmupSeconds, int Runs, int RunSeconds,
    int Customers, int Events360, int Records360, IReadOnlyList<ScenarioResult> Scenarios, IReadOnlyList<LimitResult> Limits);

internal static class Runner
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static async Task<int> RunAsync(RunSettings s)
    {
        var started = DateTimeOffset.UtcNow;
        Directory.CreateDirectory(s.Out);
        var lua = Path.Combine(AppContext.BaseDirectory, "lua");
        using (var http = new HttpClient { BaseAddress = new Uri(s.Api), Timeout = TimeSpan.FromMinutes(2) })
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", s.Key);
            var loading = System.Diagnostics.Stopwatch.StartNew();
            await new Loader(http).LoadAsync(s.Customers, s.Events360, s.Records360);
            Console.WriteLine(Invariant($"loaded {s.Customers} customers x 3 grants, {Loader.Customer360}: {s.Events360} events, {s.Records360} records ({loading.Elapsed.TotalSeconds:0.0} s)"));
        }

        string Script(string name) => Path.Combine(lua, name);
        var scenarios = new List<Scenario>
        {
            new("baseline: GET /const", $"{s.Baseline}/const", null, null),
            new("baseline: raw Npgsql lookup", $"{s.Baseline}/raw-lookup", Script("lookup.lua"), null),
            new("baseline: raw Npgsql insert", $"{s.Baseline}/raw-insert", Script("insert.lua"), null),
            new("check, cached", s.Api, Script("check.lua"), "baseline: GET /const", 0.7),
            // The uncached node's first requests: 3 s left it tiering up through the first measured runs
            // (2,614 → 5,062 rps over the five runs on 2026-12-01 17:48), so it warms longer.
            new("check, uncached", s.ApiUncached, Script("check.lua"), "baseline: raw Npgsql lookup", 0.8, WarmupSeconds: 20),
            new("batch check, 100 pairs", s.Api, Script("batch.lua"), "baseline: GET /const"),
            new("save, 1 decision", s.Api, Script("save.lua"), "baseline: raw Npgsql insert", 0.5,
                Environment: new() { ["BENCH_DECISIONS"] = "1" }),
            new("save, 5 decisions", s.Api, Script("save.lua"), "baseline: raw Npgsql insert",
                Environment: new() { ["BENCH_DECISIONS"] = "5" }),
            new("data collection", s.Api, Script("collect.lua"), "baseline: raw Npgsql insert", 0.5),
            // Each answer holds the customer's whole history, so a few connections are enough to keep the server busy.
            new($"customer 360 ({s.Events360} events, {s.Records360} records)", $"{s.Api}/api/v1/customers/{Loader.Customer360}/360", null,
                "baseline: raw Npgsql lookup", Connections: 4),
            new("mixed: 90% check, 8% collect, 2% save", s.Api, Script("mixed.lua"), "baseline: GET /const"),
        };

        var results = new List<ScenarioResult>();
        foreach (var scenario in scenarios)
        {
            var result = await MeasureAsync(scenario, s, lua, results);
            results.Add(result);
            Console.WriteLine(Invariant($"  {result.Name,-44} {result.Rps,9:0} rps  p50 {result.P50Ms,7:0.00} ms  p99 {result.P99Ms,7:0.00} ms  errors {result.Errors}"));
        }

        var limits = new List<LimitResult>();
        var cached = results.Single(r => r.Name == "check, cached");
        // wrk has no fixed-rate mode: each connection pauses between requests so that the load stays under half the measured rps.
        var pauseMs = Math.Max(1, (int)Math.Ceiling(2.0 * s.Connections * 1000 / Math.Max(cached.Rps, 1)));
        var paced = await MeasureAsync(new Scenario("check, cached, at half load", s.Api, Script("check-paced.lua"), null,
            Environment: new() { ["BENCH_DELAY_MS"] = pauseMs.ToString(CultureInfo.InvariantCulture) }), s, lua, results);
        results.Add(paced);
        limits.Add(new LimitResult("check, cached: p99 at half load", paced.P99Ms, "ms", 5, paced.P99Ms < 5,
            Invariant($"{paced.Rps:0} rps, {s.Connections} connections pausing {pauseMs} ms")));
        if (s.IdleRssMb is { } rss)
        {
            limits.Add(new LimitResult("API idle RSS", rss, "MB", 150, rss < 150, "VmRSS after start-up, before load"));
        }

        if (s.StartupMs.Count > 0)
        {
            var median = Median(s.StartupMs);
            limits.Add(new LimitResult("API start-up to ready", median, "ms", 2000, median < 2000,
                $"median of {string.Join(", ", s.StartupMs.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} ms"));
        }

        var report = new BenchResults(s.Full ? "full" : "smoke", started, Environment.ProcessorCount, s.Warmup, s.Runs, s.Seconds,
            s.Customers, s.Events360, s.Records360, results, limits);
        await File.WriteAllTextAsync(Path.Combine(s.Out, "results.json"), JsonSerializer.Serialize(report, Json));
        Chart.Draw(report, Path.Combine(s.Out, "results.png"));
        Print(report);

        var failed = results.Where(r => r.Requests == 0 || r.Errors > r.Requests / 100).ToList();
        foreach (var f in failed)
        {
            Console.Error.WriteLine($"FAILED: {f.Name}: {f.Errors} errors in {f.Requests} requests");
        }

        if (failed.Count > 0)
        {
            return 1;
        }

        var missed = results.Count(r => r.Met == false) + limits.Count(l => !l.Met);
        if (s.Full && missed > 0)
        {
            Console.WriteLine($"{missed} target(s) missed.");
            return 2;
        }

        return 0;
    }

    public static async Task<int> RedrawAsync(string input, string output)
    {
        var results = JsonSerializer.Deserialize<BenchResults>(await File.ReadAllTextAsync(input), Json)
            ?? throw new InvalidOperationException($"{input} holds no results");
        Chart.Draw(results, output);
        Print(results);
        return 0;
    }

    private static async Task<ScenarioResult> MeasureAsync(Scenario scenario, RunSettings s, string lua, List<ScenarioResult> done)
    {
        var connections = scenario.Connections ?? s.Connections;
        var environment = new Dictionary<string, string>(scenario.Environment ?? [])
        {
            ["BENCH_LUA"] = lua,
            ["BENCH_CUSTOMERS"] = s.Customers.ToString(CultureInfo.InvariantCulture),
        };
        var runId = 0;
        string NextRun() => $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}x{runId++}";

        var warmup = s.Full ? scenario.WarmupSeconds ?? s.Warmup : 0;
        if (warmup > 0)
        {
            environment["BENCH_RUN"] = NextRun();
            await Wrk.RunAsync(scenario.Url, connections, warmup, scenario.Script, environment, s.Key);
        }
        var runs = new List<WrkRun>();
        for (var i = 0; i < s.Runs; i++)
        {
            environment["BENCH_RUN"] = NextRun();
            runs.Add(await Wrk.RunAsync(scenario.Url, connections, s.Seconds, scenario.Script, environment, s.Key));
        }

        var rps = Median(runs.Select(r => r.Rps).ToList());
        var baseline = scenario.Baseline is null ? null : done.Single(r => r.Name == scenario.Baseline);
        double? ratio = baseline is { Rps: > 0 } ? rps / baseline.Rps : null;
        return new ScenarioResult(scenario.Name, scenario.Url, scenario.Baseline, connections, rps,
            Median(runs.Select(r => r.P50Ms).ToList()), Median(runs.Select(r => r.P99Ms).ToList()),
            runs.Sum(r => r.Requests), runs.Sum(r => r.Errors), ratio, scenario.Target,
            scenario.Target is { } target && ratio is { } value ? value >= target : null, runs);
    }

    private static void Print(BenchResults r)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant($"mode {r.Mode}: {r.Customers} customers, warm-up {r.WarmupSeconds} s, {r.Runs} run(s) x {r.RunSeconds} s per scenario, medians; {r.ProcessorCount} cores shared by wrk, the servers and PostgreSQL"));
        Console.WriteLine(Invariant($"{"scenario",-44} {"rps",9} {"p50 ms",8} {"p99 ms",8} {"x baseline",10} {"target",8}  result"));
        foreach (var s in r.Scenarios)
        {
            var ratio = s.Ratio is { } x ? x.ToString(x < 0.1 ? "0.000" : "0.00", CultureInfo.InvariantCulture) : s.Baseline is null ? "-" : "?";
            var target = s.Target is { } t ? Invariant($">= {t:0.0}") : "";
            var result = s.Met switch { true => "met", false => "MISSED", null => "" };
            Console.WriteLine(Invariant($"{s.Name,-44} {s.Rps,9:0} {s.P50Ms,8:0.00} {s.P99Ms,8:0.00} {ratio,10} {target,8}  {result}"));
        }

        foreach (var l in r.Limits)
        {
            Console.WriteLine(Invariant($"{l.Name,-44} {l.Value,9:0.0} {l.Unit,-3} (target < {l.Limit:0} {l.Unit})  {(l.Met ? "met" : "MISSED")}  {l.Note}"));
        }

        if (r.Mode == "smoke")
        {
            Console.WriteLine("smoke mode: short runs, targets shown but not enforced");
        }
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    internal static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
