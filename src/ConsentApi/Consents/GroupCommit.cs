using Npgsql;

namespace ConsentApi.Consents;

/// <summary>A save waiting in <see cref="GroupCommit"/>, with everything it needs from its request.</summary>
public sealed class QueuedSave(string customerId, SaveConsentsRequest request, Evidence evidence, string? idempotencyKey)
{
    public string CustomerId { get; } = customerId;
    public SaveConsentsRequest Request { get; } = request;
    public Evidence Evidence { get; } = evidence;
    public string? IdempotencyKey { get; } = idempotencyKey;

    /// <summary>The canonical body's hash, which decides "same request" for a retry with the same key.</summary>
    public string? RequestHash { get; } = idempotencyKey is null ? null : ConsentLedger.HashRequest(request);

    /// <summary>Decisions count towards a transaction's size, not saves: a save may hold many.</summary>
    public int Size => Request.Decisions!.Count;

    // Continuations run on the thread pool, not on the writer that completes the whole transaction's saves.
    internal TaskCompletionSource<ConsentLedger.SaveResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit of consent saves. A save waits here until a writer takes it: a writer takes every
/// save waiting when it starts a transaction (one per customer, up to <see cref="MaxDecisions"/>
/// decisions), commits them together in one transaction (<see cref="ConsentLedger.SaveAllAsync"/>), and
/// answers each. No save waits for company: an idle node writes a lone save at once, and under load the
/// saves that arrive during one commit form the next, so a commit's round trips, statements and WAL
/// flush are shared by all of them (docs/ledger-and-hash-chain.md, "Group commit").
/// </summary>
/// <remarks>
/// The writers run on the thread pool, started by the saves that find fewer than <see cref="Writers"/>
/// at work, and stop when nothing waits. Two saves of one customer never share a transaction (the later
/// one waits for the next): each is folded on the state the other committed. If PostgreSQL refuses a
/// transaction (a constraint, a lock it waited for too long, a failed commit), nothing of it was
/// written and its saves are written again one by one, so one save's failure is never another's; any
/// other failure (no database, a commit whose outcome is unknown) fails them all, as it would each alone.
/// </remarks>
public sealed class GroupCommit(IServiceScopeFactory scopes, ILogger<GroupCommit> logger)
{
    /// <summary>
    /// Transactions in flight at once. One: while it commits, the saves that arrive gather for the next.
    /// Two or four writers made smaller transactions and measured slower (docs/benchmarks.md).
    /// </summary>
    public const int Writers = 1;

    /// <summary>The most decisions one transaction writes (a save larger than this is written alone).</summary>
    public const int MaxDecisions = 256;

    private readonly Lock _gate = new();
    private readonly LinkedList<QueuedSave> _waiting = [];
    private int _writers;

    /// <summary>How many saves wait for a writer now.</summary>
    internal int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Saves <paramref name="save"/>: completes once its transaction committed, or with why it did not.</summary>
    public Task<ConsentLedger.SaveResult> SaveAsync(QueuedSave save)
    {
        bool startWriter;
        lock (_gate)
        {
            _waiting.AddLast(save);
            startWriter = _writers < Writers;
            if (startWriter)
            {
                _writers++;
            }
        }

        if (startWriter)
        {
            // Not in this request's execution context: the writer's work belongs to every save it takes.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(WriteWhileWaitingAsync);
            }
        }

        return save.Completion.Task;
    }

    private async Task WriteWhileWaitingAsync()
    {
        while (true)
        {
            List<QueuedSave> saves;
            lock (_gate)
            {
                saves = TakeTransaction();
                if (saves.Count == 0)
                {
                    _writers--; // under the gate: a save queued after this is seen by its own SaveAsync, which starts a writer
                    return;
                }
            }

            await WriteAsync(saves);
        }
    }

    /// <summary>The oldest waiting saves, one per customer, up to <see cref="MaxDecisions"/> decisions (at least one save).</summary>
    private List<QueuedSave> TakeTransaction()
    {
        var saves = new List<QueuedSave>();
        var customers = new HashSet<string>(StringComparer.Ordinal);
        var decisions = 0;
        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            var save = node.Value;
            if (saves.Count > 0 && decisions + save.Size > MaxDecisions)
            {
                break;
            }

            if (customers.Add(save.CustomerId))
            {
                saves.Add(save);
                decisions += save.Size;
                _waiting.Remove(node);
            }

            node = next;
        }

        return saves;
    }

    private async Task WriteAsync(List<QueuedSave> saves)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var saved = await scope.ServiceProvider.GetRequiredService<ConsentLedger>().SaveAllAsync(saves);
            foreach (var (save, result) in saved)
            {
                save.Completion.TrySetResult(result);
            }
        }
        catch (Exception exception) when (saves.Count > 1 && RefusedByTheDatabase(exception))
        {
            logger.LogWarning(exception, "A transaction of {Count} saves failed; writing each alone", saves.Count);
            foreach (var save in saves.Where(s => !s.Completion.Task.IsCompleted))
            {
                await WriteAsync([save]);
            }
        }
        catch (Exception exception)
        {
            // The database unreachable, a timeout, a commit whose outcome is unknown: written again, a save
            // might be written twice, and one by one each would wait out the same failure. Each fails now.
            foreach (var save in saves)
            {
                save.Completion.TrySetException(exception);
            }
        }
    }

    /// <summary>
    /// PostgreSQL answered with an error (a constraint, a lock timeout, a deadlock, a refused commit): the
    /// transaction is rolled back, so nothing of it was written, and one of its saves may be the cause.
    /// </summary>
    private static bool RefusedByTheDatabase(Exception exception) =>
        exception is PostgresException || exception.InnerException is PostgresException;
}
