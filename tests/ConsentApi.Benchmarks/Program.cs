using ConsentApi.Benchmarks;

// Two commands (scripts/bench.sh calls both):
//   baseline --urls http://127.0.0.1:PORT --db <connection string>     serve the baselines
//   run --mode smoke|full --api URL --api-uncached URL --baseline URL --key KEY [--out DIR]
//       [--idle-rss-mb N] [--startup-ms a,b,c]                          load data, run wrk, write the results
//   chart --in results.json --out results.png                          draw the chart again from a results file
var options = Arguments.Parse(args.Skip(1));
return args.FirstOrDefault() switch
{
    "baseline" => await BaselineServer.RunAsync(options.Required("urls"), options.Required("db")),
    "run" => await Runner.RunAsync(RunSettings.From(options)),
    "chart" => await Runner.RedrawAsync(options.Required("in"), options.Required("out")),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ConsentApi.Benchmarks baseline --urls URL --db CONN | run --mode smoke|full --api URL --api-uncached URL --baseline URL --key KEY");
    return 64;
}
