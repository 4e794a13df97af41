using Infery.Bench;
using Infery.Bench.Gateway;

var commandName = args.FirstOrDefault();
var arguments = Arguments.Parse(args.Skip(1));

try
{
    return commandName switch
    {
        "appends" => await EventStoreAppendBenchmark.RunAsync(arguments),
        "gateway" => await GatewayBenchmark.RunAsync(arguments),
        "forwarder" => await BareForwarder.RunAsync(arguments),
        _ => Usage(),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: Infery.Bench <benchmark> [options]

        benchmarks:
          appends   event store appends: group commit vs one transaction per append
                    [--seconds N] [--concurrency 1,16,64] [--out path] [--smoke]
          gateway   chat completions through the gateway (a separate process, billing durably) vs
                    straight to the same mock upstream; non-streaming and streaming
                    [--seconds N] [--concurrency 1,16,64] [--rates 1000,4000|none] [--chunks 20]
                    [--warmup 1] [--out path] [--gateway path/to/Infery.Api.dll] [--gateway-env "NAME=value;..."] [--smoke]
                    [--baseline path/to/other/Infery.Api.dll] [--baseline-env "NAME=value;..."]:
                    a second gateway (another build, or the same with another environment) in the same
                    rotation, compared with the first in its own table. --rates: requests per second
                    sent on a schedule whatever the answers' speed (open loop), or none
          forwarder the bare forwarder the gateway benchmark starts as its reference hop
                    --upstream http://host:port/v1/ --urls http://127.0.0.1:port

        The database is INFERY_DB if set, otherwise a throwaway local PostgreSQL cluster.
        """);
    return 2;
}
