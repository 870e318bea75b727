using ConsentApi.Purposes;

namespace ConsentApi.Consents;

public enum ConsentStatus { None, Granted, Revoked, Expired, Outdated }

/// <summary>What a purpose says about consent, reduced to what the status rules need.</summary>
public sealed record PurposeTerms(string Key, PurposeStatus Status, int CurrentVersion, int ReconsentFromVersion,
    ConsentModel ConsentModel, bool HonorsGpc)
{
    /// <summary>The terms of a purpose already in memory with its current version (queries project them in SQL).</summary>
    public static PurposeTerms Of(Purpose purpose, PurposeVersion current) => new(purpose.Key, purpose.Status,
        purpose.CurrentVersion, purpose.ReconsentFromVersion, current.ConsentModel, current.HonorsGpc);
}

/// <summary>The answer to "is consent active?" for one customer and purpose.</summary>
public readonly record struct ConsentVerdict(ConsentStatus Status, bool Active, string Reason);

/// <summary>
/// The status rules of DESIGN.md in one pure function. The stored state holds only the last
/// decision; expiry, re-consent and GPC are judged here, at the moment of asking, so that a
/// grant is never active a moment past its expiry whatever a background job has done.
/// </summary>
public static class ConsentRules
{
    public static ConsentVerdict Evaluate(ConsentState? state, PurposeTerms purpose, DateTimeOffset now, bool gpcSignal)
    {
        var status = StatusOf(state, purpose, now);
        if (purpose.Status == PurposeStatus.Retired)
        {
            return new(status, false, "The purpose is retired: nothing may be collected for it.");
        }

        return status switch
        {
            ConsentStatus.Granted => new(status, true, "The customer granted consent."),
            ConsentStatus.Revoked => new(status, false, "The customer revoked consent."),
            ConsentStatus.Expired => new(status, false, "The grant expired; ask the customer again."),
            ConsentStatus.Outdated => new(status, false,
                $"The grant was for version {state!.PurposeVersion}; version {purpose.ReconsentFromVersion} requires a new decision."),
            _ when purpose.ConsentModel == ConsentModel.OptIn => new(status, false, "Opt-in purpose: the customer has not granted consent."),
            _ when gpcSignal && purpose.HonorsGpc => new(status, false, "The request carries a Global Privacy Control opt-out signal."),
            _ => new(status, true, "Opt-out purpose: the customer has not objected."),
        };
    }

    public static ConsentStatus StatusOf(ConsentState? state, PurposeTerms purpose, DateTimeOffset now) => state switch
    {
        null => ConsentStatus.None,
        { Decision: Decision.Revoked } => ConsentStatus.Revoked,
        { Decision: Decision.Expired } => ConsentStatus.Expired,
        { ExpiresAt: { } expires } when expires <= now => ConsentStatus.Expired,
        _ when state.PurposeVersion < purpose.ReconsentFromVersion => ConsentStatus.Outdated,
        _ => ConsentStatus.Granted,
    };

    /// <summary>The GPC spec: only the exact value "1" is a signal; anything else is ignored.</summary>
    public static bool HasGpcSignal(HttpRequest request) =>
        request.Headers.TryGetValue("Sec-GPC", out var value) && value.Count == 1 && value[0] == "1";
}
