namespace Infery.Api.Http;

/// <summary>
/// Every response carries x-request-id: the client's own when it sent a sensible one, else a new one.
/// Handlers read it with <see cref="Of"/> to stamp events with it.
/// </summary>
public static class RequestId
{
    public const string Header = "x-request-id";
    private const int MaxLength = 128;

    public static string Of(HttpContext context) => (string)context.Items[Header]!;

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var id = context.Request.Headers[Header].ToString();
        if (id.Length is 0 or > MaxLength || !id.All(IsAllowed))
            id = NewId();
        context.Items[Header] = id;
        context.Response.Headers[Header] = id;
        return next(context);
    });

    public static string NewId() => $"req_{Guid.CreateVersion7():N}";

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';
}
