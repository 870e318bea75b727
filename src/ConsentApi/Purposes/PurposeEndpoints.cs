using ConsentApi.Auth;
using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Purposes;

/// <summary>The purpose catalogue: the public transparency notice, managed by admins.</summary>
public static class PurposeEndpoints
{
    public static RouteGroupBuilder MapPurposes(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/purposes").WithTags("Purposes");
        group.MapGet("/", List).AllowAnonymous().WithName("ListPurposes");
        group.MapGet("/{key}", Get).AllowAnonymous().WithName("GetPurpose");
        group.MapGet("/{key}/versions", Versions).AllowAnonymous().WithName("ListPurposeVersions");
        group.MapPost("/", Create).RequireAuthorization(Roles.AdminPolicy).WithValidation().WithName("CreatePurpose");
        group.MapPut("/{key}", Update).RequireAuthorization(Roles.AdminPolicy).WithValidation().WithName("UpdatePurpose");
        group.MapDelete("/{key}", Retire).RequireAuthorization(Roles.AdminPolicy).WithName("RetirePurpose");
        return group;
    }

    /// <summary>The transparency notice: every purpose, what it collects, why, who gets it, for how long.</summary>
    /// <param name="status"><c>active</c> (the default) lists purposes in use; <c>all</c> includes retired ones.</param>
    /// <param name="cursor">From the previous page's <c>nextCursor</c>.</param>
    /// <param name="limit">Page size, 1–500 (default 50).</param>
    public static async Task<Results<Ok<ListResponse<PurposeResponse>>, ValidationProblem>> List(
        ConsentDbContext db, CancellationToken cancellationToken,
        [FromQuery] string? status = null, [FromQuery] string? cursor = null, [FromQuery] int? limit = null)
    {
        if (status is not (null or "active" or "all"))
        {
            return Problems.Validation("status", "'status' must be 'active' or 'all'.");
        }

        var (take, after, problem) = Paging.Read(cursor, limit);
        if (problem is not null)
        {
            return problem;
        }

        var query = db.Purposes.AsNoTracking();
        if (status != "all")
        {
            query = query.Where(p => p.Status == PurposeStatus.Active);
        }

        if (after is not null)
        {
            query = query.Where(p => string.Compare(p.Key, after) > 0);
        }

        var page = await query.OrderBy(p => p.Key).Take(take + 1)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .ToListAsync(cancellationToken);
        var items = page.Take(take).Select(x => PurposeResponse.From(x.Purpose, x.Current)).ToList();
        var next = page.Count > take ? Paging.Encode(items[^1].Key) : null;
        return TypedResults.Ok(new ListResponse<PurposeResponse>(items, next));
    }

    /// <summary>One purpose's current notice. A retired purpose still answers, with <c>status: retired</c>.</summary>
    public static async Task<Results<Ok<PurposeResponse>, ProblemHttpResult>> Get(string key, ConsentDbContext db,
        HttpContext http, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, key, cancellationToken);
        if (found is null)
        {
            return Problems.NotFound($"There is no purpose '{Shorten(key)}'.");
        }

        http.Response.Headers.ETag = ETag(found.Value.Current.Version);
        return TypedResults.Ok(PurposeResponse.From(found.Value.Purpose, found.Value.Current));
    }

    /// <summary>Every version of a purpose's notice, newest first: what each customer was shown.</summary>
    public static async Task<Results<Ok<ListResponse<PurposeVersionResponse>>, ProblemHttpResult>> Versions(string key,
        ConsentDbContext db, CancellationToken cancellationToken)
    {
        var versions = await db.PurposeVersions.AsNoTracking().Where(v => v.PurposeKey == key)
            .OrderByDescending(v => v.Version).Take(Paging.MaxLimit).ToListAsync(cancellationToken);
        if (versions.Count == 0)
        {
            return Problems.NotFound($"There is no purpose '{Shorten(key)}'.");
        }

        return TypedResults.Ok(new ListResponse<PurposeVersionResponse>(versions.Select(PurposeVersionResponse.From).ToList(), null));
    }

    /// <summary>Create a purpose (version 1).</summary>
    /// <remarks>
    /// Two rules protect people: a purpose with <c>automatedDecisions</c> may not declare a sensitive
    /// category, and a purpose with any sensitive category must be <c>opt-in</c>. The key never changes.
    /// </remarks>
    public static async Task<Results<Created<PurposeResponse>, ProblemHttpResult>> Create(CreatePurposeRequest request,
        ConsentDbContext db, ConsentOutbox outbox, TimeProvider clock, HttpContext http, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow();
        var version = NewVersion(request.Key!, 1, request, requiresReconsent: false, now);
        var purpose = new Purpose
        {
            Key = request.Key!, CurrentVersion = 1, Status = PurposeStatus.Active, CreatedAt = now, UpdatedAt = now,
            Versions = [version],
        };
        db.Purposes.Add(purpose);
        ConsentOutbox.Add(db, OutboxTopics.PurposeChanged, null, purpose.Key, null, now); // nodes may have cached "no such purpose"
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return Problems.Conflict($"A purpose with key '{request.Key}' already exists; keys are never reused.");
        }

        outbox.PurposeCommitted(purpose.Key);
        http.Response.Headers.ETag = ETag(1);
        return TypedResults.Created($"/api/v1/purposes/{purpose.Key}", PurposeResponse.From(purpose, version));
    }

    /// <summary>Replace a purpose's notice; a change creates a new immutable version.</summary>
    /// <remarks>
    /// Send the full notice and <c>If-Match</c> with the current ETag. An unchanged notice keeps the
    /// version; <c>requiresReconsent: true</c> always makes a new version and turns grants of earlier
    /// versions <c>outdated</c>. No If-Match: 428; a stale one: 412.
    /// </remarks>
    public static async Task<Results<Ok<PurposeResponse>, ProblemHttpResult>> Update(string key,
        UpdatePurposeRequest request, [FromHeader(Name = "If-Match")] string? ifMatch,
        ConsentDbContext db, ConsentOutbox outbox, TimeProvider clock, HttpContext http, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, key, cancellationToken, track: true);
        if (found is null)
        {
            return Problems.NotFound($"There is no purpose '{Shorten(key)}'.");
        }

        var (purpose, current) = found.Value;
        if (string.IsNullOrWhiteSpace(ifMatch))
        {
            return Problems.PreconditionRequired("If-Match");
        }

        if (!IfMatchAccepts(ifMatch, current.Version))
        {
            return Problems.PreconditionFailed($"The purpose is at version {current.Version} (ETag {ETag(current.Version)}); fetch it again and reapply your change.");
        }

        if (purpose.Status == PurposeStatus.Retired)
        {
            return Problems.Conflict("The purpose is retired; create a new purpose instead.");
        }

        var now = clock.UtcNow();
        var requiresReconsent = request.RequiresReconsent == true;
        var candidate = NewVersion(key, current.Version + 1, request, requiresReconsent, now);
        if (!requiresReconsent && candidate.SameNoticeAs(current))
        {
            http.Response.Headers.ETag = ETag(current.Version);
            return TypedResults.Ok(PurposeResponse.From(purpose, current));
        }

        db.PurposeVersions.Add(candidate);
        purpose.CurrentVersion = candidate.Version;
        purpose.UpdatedAt = now;
        if (requiresReconsent)
        {
            purpose.ReconsentFromVersion = candidate.Version;
        }

        ConsentOutbox.Add(db, OutboxTopics.PurposeChanged, null, key, null, now);
        try
        {
            await PurposeLocks.SaveChangesLockedAsync(db, key, cancellationToken);
        }
        catch (DbUpdateException e) when (e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            // Another update took this version number first: the If-Match this one sent is stale now.
            return Problems.PreconditionFailed("The purpose changed while this update was in flight; fetch it again.");
        }

        outbox.PurposeCommitted(key);
        http.Response.Headers.ETag = ETag(candidate.Version);
        return TypedResults.Ok(PurposeResponse.From(purpose, candidate));
    }

    /// <summary>Retire a purpose: no new consents or collection; its history and notice stay readable.</summary>
    /// <remarks>Retiring a retired purpose is not an error.</remarks>
    public static async Task<Results<NoContent, ProblemHttpResult>> Retire(string key, ConsentDbContext db,
        ConsentOutbox outbox, TimeProvider clock, CancellationToken cancellationToken)
    {
        var purpose = await db.Purposes.FirstOrDefaultAsync(p => p.Key == key, cancellationToken);
        if (purpose is null)
        {
            return Problems.NotFound($"There is no purpose '{Shorten(key)}'.");
        }

        if (purpose.Status != PurposeStatus.Retired)
        {
            purpose.Status = PurposeStatus.Retired;
            purpose.UpdatedAt = clock.UtcNow();
            ConsentOutbox.Add(db, OutboxTopics.PurposeChanged, null, key, null, purpose.UpdatedAt);
            await PurposeLocks.SaveChangesLockedAsync(db, key, cancellationToken);

            outbox.PurposeCommitted(key);
        }

        return TypedResults.NoContent();
    }

    public static string ETag(int version) => $"\"{version}\"";

    /// <summary>Strong comparison (RFC 9110 §13.1.1): a weak tag never matches; <c>*</c> matches any.</summary>
    internal static bool IfMatchAccepts(string ifMatch, int version) =>
        ifMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Any(tag => tag == "*" || tag == ETag(version));

    private static async Task<(Purpose Purpose, PurposeVersion Current)?> FindAsync(ConsentDbContext db, string key,
        CancellationToken cancellationToken, bool track = false)
    {
        var query = track ? db.Purposes : db.Purposes.AsNoTracking();
        var purpose = await query.FirstOrDefaultAsync(p => p.Key == key, cancellationToken);
        if (purpose is null)
        {
            return null;
        }

        var versions = track ? db.PurposeVersions : db.PurposeVersions.AsNoTracking();
        var current = await versions.SingleAsync(v => v.PurposeKey == key && v.Version == purpose.CurrentVersion, cancellationToken);
        return (purpose, current);
    }

    private static PurposeVersion NewVersion(string key, int number, PurposeNoticeRequest notice, bool requiresReconsent,
        DateTimeOffset now) => new()
    {
        PurposeKey = key,
        Version = number,
        Name = notice.Name!,
        Description = notice.Description!,
        DataCategories = notice.DataCategories!.Select(c => new DataCategory(c.Key!, c.Description!, c.Sensitive!.Value)).ToList(),
        Recipients = (notice.Recipients ?? []).Select(r => new Recipient(r.Name!, r.ThirdParty!.Value)).ToList(),
        RetentionDays = notice.RetentionDays!.Value,
        LegalBasis = notice.LegalBasis!.Value,
        ConsentModel = notice.ConsentModel!.Value,
        ConsentLifetimeDays = notice.ConsentLifetimeDays,
        HonorsGpc = notice.HonorsGpc ?? false,
        AutomatedDecisions = notice.AutomatedDecisions ?? false,
        OnRevoke = notice.OnRevoke ?? OnRevoke.Delete,
        RequiresReconsent = requiresReconsent,
        CreatedAt = now,
    };

    /// <summary>Echo at most a little of an unknown key back, never a hostile wall of text.</summary>
    internal static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
