using System.Threading.Channels;
using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ConsentApi.Consents;

/// <summary>
/// A change that other nodes (and, once webhooks exist, their subscribers) must hear about. It is
/// written in the transaction that made the change, so it exists exactly when the change committed;
/// <see cref="OutboxDispatcher"/> sends it and deletes it.
/// </summary>
public sealed class OutboxMessage
{
    /// <summary>Commit order, roughly: the dispatcher sends the oldest first.</summary>
    public long Id { get; init; }

    /// <summary>One of <see cref="OutboxTopics"/>: the webhook event types of DESIGN.md.</summary>
    public required string Topic { get; init; }

    public string? CustomerId { get; init; }
    public string? PurposeKey { get; init; }

    /// <summary>The ledger event behind a <c>consent.*</c> message.</summary>
    public Guid? EventId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The outbox's topics, named as the webhook event types they will become.</summary>
public static class OutboxTopics
{
    public const string ConsentGranted = "consent.granted";
    public const string ConsentRevoked = "consent.revoked";
    public const string ConsentExpired = "consent.expired";
    public const string PurposeChanged = "purpose.changed";

    public static string Of(Decision decision) => decision switch
    {
        Decision.Granted => ConsentGranted,
        Decision.Revoked => ConsentRevoked,
        Decision.Expired => ConsentExpired,
        _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, null),
    };
}

/// <summary>
/// The node's side of the outbox: what a changing transaction adds, and what happens right after it
/// committed — the node forgets what it changed at once (it need not wait for its own notification)
/// and wakes its <see cref="OutboxDispatcher"/>, which tells the other nodes.
/// </summary>
public sealed class ConsentOutbox(ConsentCache cache)
{
    // One pending wake is enough: the dispatcher sends every row it finds, however many commits woke it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Adds a message to <paramref name="db"/>: the caller's SaveChanges writes it in the caller's transaction.</summary>
    public static void Add(ConsentDbContext db, string topic, string? customerId, string? purposeKey, Guid? eventId, DateTimeOffset at) =>
        db.Set<OutboxMessage>().Add(new OutboxMessage
        {
            Topic = topic, CustomerId = customerId, PurposeKey = purposeKey, EventId = eventId, CreatedAt = at,
        });

    /// <summary>After a commit that changed these consent states.</summary>
    public void ConsentsCommitted(string customerId, IEnumerable<string> purposeKeys)
    {
        foreach (var key in purposeKeys)
        {
            cache.Evict(customerId, key);
        }

        Wake();
    }

    /// <summary>After a commit that created, changed or retired a purpose.</summary>
    public void PurposeCommitted(string purposeKey)
    {
        cache.EvictPurpose(purposeKey);
        Wake();
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Returns when a commit woke the dispatcher, or after <paramref name="timeout"/> (the poll for rows left by others).</summary>
    internal async Task WaitForWorkAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        poll.CancelAfter(timeout);
        try
        {
            await _wake.Reader.ReadAsync(poll.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // the poll interval passed
        }
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    // Keyed by its own sequence, not by customer: purpose messages have no customer, and the
    // dispatcher reads the table in id order. It holds only what is not yet sent, a few rows at a time.
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("outbox");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Id).UseIdentityByDefaultColumn();
        builder.Property(m => m.Topic).HasMaxLength(64);
        builder.Property(m => m.CustomerId).HasMaxLength(Http.ValidationRules.CustomerIdMaxLength);
        builder.Property(m => m.PurposeKey).HasMaxLength(64);
    }
}
