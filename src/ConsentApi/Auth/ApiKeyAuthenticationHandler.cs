using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using ConsentApi.Data;
using ConsentApi.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentApi.Auth;

/// <summary>SHA-256 of Auth:BootstrapAdminKey, or null when none is configured.</summary>
public sealed record BootstrapKey(byte[]? Hash);

/// <summary>
/// Authenticates <c>X-Api-Key</c>. A key found in the database is cached for a few seconds, so a
/// busy service does not pay a lookup per request; revoking evicts it on this node at once and
/// on other nodes within <see cref="CacheFor"/>.
/// </summary>
/// <remarks>
/// A plain <see cref="IAuthenticationHandler"/> rather than <c>AuthenticationHandler&lt;T&gt;</c>: the
/// base class builds a logger and reads its options on every request, which showed in the
/// profile of the consent check; this needs neither. The ticket of a cached key is shared by its
/// requests (nothing here changes a principal after authentication).
/// </remarks>
public sealed class ApiKeyAuthenticationHandler(BootstrapKey bootstrap, IMemoryCache cache, IProblemDetailsService problems)
    : IAuthenticationHandler
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan UnknownKeyCacheFor = TimeSpan.FromSeconds(2);
    internal static readonly Guid BootstrapKeyId = Guid.Empty;

    private static readonly AuthenticationTicket BootstrapTicket = Ticket(BootstrapKeyId, Roles.Admin);

    private HttpContext _context = null!;
    private Task<AuthenticateResult>? _result;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _context = context;
        return Task.CompletedTask;
    }

    public Task<AuthenticateResult> AuthenticateAsync() => _result ??= AuthenticateOnceAsync();

    private async Task<AuthenticateResult> AuthenticateOnceAsync()
    {
        if (!_context.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            return AuthenticateResult.NoResult();
        }

        var presented = values.ToString();
        if (presented.Length is 0 or > 200)
        {
            return AuthenticateResult.Fail("Malformed API key.");
        }

        var ticket = await FindAsync(ApiKey.Hash(presented));
        return ticket is null ? AuthenticateResult.Fail("Unknown or revoked API key.") : AuthenticateResult.Success(ticket);
    }

    private async Task<AuthenticationTicket?> FindAsync(string hash)
    {
        if (bootstrap.Hash is { } bootstrapHash && CryptographicOperations.FixedTimeEquals(bootstrapHash, Encoding.ASCII.GetBytes(hash)))
        {
            return BootstrapTicket;
        }

        if (cache.TryGetValue(CacheKey(hash), out AuthenticationTicket? cached))
        {
            return cached; // null: recently looked up and unknown
        }

        // Resolved only on a miss: a cached key must not cost a DbContext from the pool.
        var db = _context.RequestServices.GetRequiredService<ConsentDbContext>();
        var key = await db.ApiKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Select(k => new { k.Id, k.Role })
            .FirstOrDefaultAsync(_context.RequestAborted);
        // Misses are remembered briefly too, so a flood of made-up keys cannot turn into a flood of queries.
        var ticket = key is null ? null : Ticket(key.Id, KebabCase.Name(key.Role));
        cache.Set(CacheKey(hash), ticket, key is null ? UnknownKeyCacheFor : CacheFor);
        return ticket;
    }

    private static AuthenticationTicket Ticket(Guid keyId, string role) => new(
        new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(Roles.KeyIdClaim, keyId.ToString()),
            new Claim(ClaimTypes.Role, role),
        ], SchemeName)), SchemeName);

    internal static string CacheKey(string hash) => "api-key:" + hash;

    public Task ChallengeAsync(AuthenticationProperties? properties) =>
        WriteProblemAsync(StatusCodes.Status401Unauthorized, "Authentication required",
            $"Send a valid API key in the {HeaderName} header.", ProblemTypes.Unauthorized);

    public Task ForbidAsync(AuthenticationProperties? properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden",
            "This credential's role may not use this endpoint.", ProblemTypes.Forbidden);

    private async Task WriteProblemAsync(int status, string title, string detail, string type)
    {
        _context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            _context.Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\"";
        }

        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = _context,
            ProblemDetails = { Status = status, Title = title, Detail = detail, Type = type },
        });
    }
}
