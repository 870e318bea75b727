using ConsentApi.Auth;
using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Data;

/// <summary>The one DbContext. Each entity's mapping lives beside its feature.</summary>
public sealed class ConsentDbContext(DbContextOptions<ConsentDbContext> options) : DbContext(options)
{
    public DbSet<Purpose> Purposes => Set<Purpose>();
    public DbSet<PurposeVersion> PurposeVersions => Set<PurposeVersion>();
    public DbSet<ConsentEvent> ConsentEvents => Set<ConsentEvent>();
    public DbSet<ConsentEvidence> ConsentEvidence => Set<ConsentEvidence>();
    public DbSet<ConsentState> ConsentStates => Set<ConsentState>();
    public DbSet<LedgerHead> LedgerHeads => Set<LedgerHead>();
    public DbSet<Receipt> Receipts => Set<Receipt>();
    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<DataRecord> DataRecords => Set<DataRecord>();
    public DbSet<DeletionLogEntry> DeletionLog => Set<DeletionLogEntry>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ConsentDbContext).Assembly);
}
