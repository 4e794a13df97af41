using Infery.EventStore;

namespace Infery.EventStore.Tests;

[EventName("test.thing_happened.v1")]
public sealed record ThingHappened(int Number, string Writer);

[EventName("test.poison.v1")]
public sealed record Poison(string Reason);
