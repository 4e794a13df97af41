namespace Infery.EventStore;

/// <summary>The stable wire name of an event type, e.g. "credits.charged.v1". Never rename a published one; add a v2.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class EventNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
