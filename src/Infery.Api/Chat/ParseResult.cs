using System.Diagnostics.CodeAnalysis;
using Infery.Api.Http;

namespace Infery.Api.Chat;

/// <summary>A request that passed validation, or the 400 error that says which field did not.</summary>
public sealed class ParseResult
{
    private ParseResult(ChatRequest? request, ApiError? error)
    {
        Request = request;
        Error = error;
    }

    public ChatRequest? Request { get; }

    public ApiError? Error { get; }

    [MemberNotNullWhen(true, nameof(Request))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => Request is not null;

    public static ParseResult Valid(ChatRequest request) => new(request, null);

    public static ParseResult Invalid(ApiError error) => new(null, error);
}
