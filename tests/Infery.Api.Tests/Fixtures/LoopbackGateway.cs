using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Fixtures;

/// <summary>The gateway on a real loopback port, for clients outside the process and for what needs a client address.</summary>
public class LoopbackGateway : GatewayFactory
{
    public LoopbackGateway() => UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));

    public Uri BaseAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
}
