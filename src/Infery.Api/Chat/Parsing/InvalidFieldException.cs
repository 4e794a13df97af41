namespace Infery.Api.Chat.Parsing;

/// <summary>
/// Ends validation at the first bad field. Only thrown inside the parsers and always caught by their
/// public entry points, which turn it into a 400 naming <see cref="Param"/>.
/// </summary>
internal sealed class InvalidFieldException(string param, string message) : Exception(message)
{
    public string Param { get; } = param;
}
