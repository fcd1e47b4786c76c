using Presence.Bench;

// dotnet run -c Release --project Bench -- <scenario>; see docs/benchmarks.md.
try
{
    return args switch
    {
        ["serve-baseline", .. var rest] => BaselineServer.Run(rest),
        ["allocations", .. var rest] => await Allocations.Run(rest),
        ["heap", .. var rest] => HeapCensus.Run(rest),
        [var scenario, ..] when Scenarios.All.ContainsKey(scenario) => await Scenarios.All[scenario](new BenchSettings(args[1..])),
        _ => Usage(),
    };
}
catch (MissingPrerequisiteException missing)
{
    Console.Error.WriteLine($"bench: {missing.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine($"usage: dotnet run -c Release --project Bench -- <{string.Join("|", Scenarios.All.Keys)}> [--seconds N] [--rounds N] [--users N] (compare: [--a-env \"K=V;K=V\"] [--b-env ...] [--a-dll path] [--b-dll path] [--script update|read|list]), or allocations <pid> [seconds], or heap <pid> [top]");
    return 2;
}
