using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using ConsentApi.Data;
using ConsentApi.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace ConsentApi.Auth;

public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>SHA-256 of Auth:BootstrapAdminKey, or null when none is configured.</summary>
    public byte[]? BootstrapKeyHash { get; set; }
}

/// <summary>
/// Authenticates <c>X-Api-Key</c>. A key found in the database is cached for a few seconds, so a
/// busy service does not pay a lookup per request; revoking evicts it on this node at once and
/// on other nodes within <see cref="CacheFor"/>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ConsentDbContext db,
    IMemoryCache cache,
    IProblemDetailsService problems)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan UnknownKeyCacheFor = TimeSpan.FromSeconds(2);
    internal static readonly Guid BootstrapKeyId = Guid.Empty;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values))
        {
            return AuthenticateResult.NoResult();
        }

        var presented = values.ToString();
        if (presented.Length is 0 or > 200)
        {
            return AuthenticateResult.Fail("Malformed API key.");
        }

        var hash = ApiKey.Hash(presented);
        var identity = await FindAsync(hash);
        return identity is null
            ? AuthenticateResult.Fail("Unknown or revoked API key.")
            : AuthenticateResult.Success(new AuthenticationTicket(
                new ClaimsPrincipal(new ClaimsIdentity(
                [
                    new Claim(Roles.KeyIdClaim, identity.Value.Id.ToString()),
                    new Claim(ClaimTypes.Role, identity.Value.Role),
                ], SchemeName)), SchemeName));
    }

    private async Task<(Guid Id, string Role)?> FindAsync(string hash)
    {
        if (Options.BootstrapKeyHash is { } bootstrap
            && CryptographicOperations.FixedTimeEquals(bootstrap, Encoding.ASCII.GetBytes(hash)))
        {
            return (BootstrapKeyId, Roles.Admin);
        }

        if (cache.TryGetValue(CacheKey(hash), out (Guid, string)? cached))
        {
            return cached; // null: recently looked up and unknown
        }

        var key = await db.ApiKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Select(k => new { k.Id, k.Role })
            .FirstOrDefaultAsync(Context.RequestAborted);
        if (key is null)
        {
            // Remember misses briefly too, so a flood of made-up keys cannot turn into a flood of queries.
            cache.Set(CacheKey(hash), ((Guid, string)?)null, UnknownKeyCacheFor);
            return null;
        }

        var found = (key.Id, KebabCase.Name(key.Role));
        cache.Set(CacheKey(hash), ((Guid, string)?)found, CacheFor);
        return found;
    }

    internal static string CacheKey(string hash) => "api-key:" + hash;

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status401Unauthorized, "Authentication required",
            $"Send a valid API key in the {HeaderName} header.", ProblemTypes.Unauthorized);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden",
            "This credential's role may not use this endpoint.", ProblemTypes.Forbidden);

    private async Task WriteProblemAsync(int status, string title, string detail, string type)
    {
        Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\"";
        }

        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail, Type = type },
        });
    }
}
