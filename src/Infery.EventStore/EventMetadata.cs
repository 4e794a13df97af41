namespace Infery.EventStore;

/// <summary>Who and what caused an event: stored beside it, never inside its data.</summary>
public sealed record EventMetadata(
    string? RequestId = null,
    string? WorkspaceId = null,
    string? CausationId = null,
    string? Actor = null)
{
    public static readonly EventMetadata None = new();
}
