using System.Text.Json.Serialization;
using ConsentApi.Data;
using ConsentApi.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentApi.Auth;

/// <summary>A new API key.</summary>
public sealed record CreateApiKeyRequest
{
    /// <summary>What the key is for, so that admins can tell keys apart.</summary>
    /// <example>checkout</example>
    public string? Name { get; init; }

    /// <summary><c>service</c> for back-end services, <c>admin</c> for administration.</summary>
    /// <example>service</example>
    public ApiKeyRole? Role { get; init; }
}

public sealed class CreateApiKeyValidator : AbstractValidator<CreateApiKeyRequest>
{
    public CreateApiKeyValidator()
    {
        RuleFor(r => r.Name).NotEmpty().PlainText(100);
        RuleFor(r => r.Role).NotNull().IsInEnum();
    }
}

/// <summary>An API key as listed; the key itself is never shown again.</summary>
public record ApiKeyResponse
{
    public required Guid Id { get; init; }

    /// <example>checkout</example>
    public required string Name { get; init; }

    public required ApiKeyRole Role { get; init; }

    /// <summary>The first characters of the key.</summary>
    /// <example>cak_Qm9i</example>
    public required string Prefix { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }

    public static ApiKeyResponse From(ApiKey k) => new()
    {
        Id = k.Id, Name = k.Name, Role = k.Role, Prefix = k.Prefix, CreatedAt = k.CreatedAt, RevokedAt = k.RevokedAt,
    };
}

/// <summary>A newly issued key: <see cref="Key"/> appears in this answer only.</summary>
public sealed record CreatedApiKeyResponse : ApiKeyResponse
{
    /// <summary>The secret to send in <c>X-Api-Key</c>. Store it now: it is not shown again.</summary>
    /// <example>cak_Qm9iIHNheXMgaGkgdG8gdGhlIHRlc3Qgd2l0aCBhIGxvbmcga2V5</example>
    [JsonPropertyOrder(1)]
    public required string Key { get; init; }
}

public static class ApiKeyEndpoints
{
    public static RouteGroupBuilder MapApiKeys(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/api-keys").WithTags("API keys").RequireAuthorization(Roles.AdminPolicy);
        group.MapPost("/", Create).WithValidation().WithName("CreateApiKey");
        group.MapGet("/", List).WithName("ListApiKeys");
        group.MapDelete("/{id:guid}", Revoke).WithName("RevokeApiKey");
        return group;
    }

    /// <summary>Issue an API key.</summary>
    /// <remarks>The answer holds the key itself, shown only here; only its hash is stored.</remarks>
    public static async Task<Created<CreatedApiKeyResponse>> Create(CreateApiKeyRequest request, ConsentDbContext db,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var secret = ApiKey.NewKey();
        var key = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            Name = request.Name!,
            Role = request.Role!.Value,
            KeyHash = ApiKey.Hash(secret),
            Prefix = secret[..8],
            CreatedAt = clock.UtcNow(),
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);

        var response = new CreatedApiKeyResponse
        {
            Id = key.Id, Name = key.Name, Role = key.Role, Prefix = key.Prefix, CreatedAt = key.CreatedAt, Key = secret,
        };
        return TypedResults.Created($"/api/v1/api-keys/{key.Id}", response);
    }

    /// <summary>List issued API keys (without the keys themselves).</summary>
    public static async Task<Ok<ListResponse<ApiKeyResponse>>> List(ConsentDbContext db, CancellationToken cancellationToken)
    {
        var keys = await db.ApiKeys.AsNoTracking().OrderBy(k => k.CreatedAt).Take(Paging.MaxLimit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new ListResponse<ApiKeyResponse>(keys.Select(ApiKeyResponse.From).ToList(), null));
    }

    /// <summary>Revoke an API key.</summary>
    /// <remarks>Takes effect at once on the node that answers and within seconds on every other node. Revoking twice is not an error.</remarks>
    public static async Task<Results<NoContent, ProblemHttpResult>> Revoke(Guid id, ConsentDbContext db, IMemoryCache cache,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id, cancellationToken);
        if (key is null)
        {
            return Problems.NotFound($"There is no API key {id}.");
        }

        key.RevokedAt ??= clock.UtcNow();
        await db.SaveChangesAsync(cancellationToken);
        cache.Remove(ApiKeyAuthenticationHandler.CacheKey(key.KeyHash));
        return TypedResults.NoContent();
    }
}
