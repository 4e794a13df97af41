namespace Infery.Domain;

/// <summary>A command the rules refuse. <see cref="Code"/> is stable; <see cref="Param"/> names the offending field.</summary>
public sealed class DomainException(string code, string message, string? param = null) : Exception(message)
{
    public string Code { get; } = code;
    public string? Param { get; } = param;
}
