namespace ConsentApi.Http;

/// <summary>
/// The stable problem <c>type</c> URIs of the public contract (docs/problems.md describes each).
/// Clients switch on the last path segment; it never changes once published.
/// </summary>
public static class ProblemTypes
{
    public const string Base = "https://consentapi.dev/problems/";

    public const string ValidationFailed = Base + "validation-failed";
    public const string ConsentRequired = Base + "consent-required";
    public const string UndeclaredFields = Base + "undeclared-fields";
    public const string NotFound = Base + "not-found";
    public const string Conflict = Base + "conflict";
    public const string Unauthorized = Base + "unauthorized";
    public const string Forbidden = Base + "forbidden";
    public const string RateLimited = Base + "rate-limited";
    public const string IdempotencyKeyReused = Base + "idempotency-key-reused";

    /// <summary>The type for a status code when no more specific one was chosen.</summary>
    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed => NotFound,
        StatusCodes.Status409Conflict or StatusCodes.Status412PreconditionFailed => Conflict,
        StatusCodes.Status429TooManyRequests => RateLimited,
        >= 400 and < 500 => ValidationFailed,
        _ => "about:blank",
    };
}
