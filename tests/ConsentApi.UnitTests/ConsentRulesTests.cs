using ConsentApi.Consents;
using ConsentApi.Purposes;

namespace ConsentApi.UnitTests;

public sealed class ConsentRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static PurposeTerms Terms(ConsentModel model = ConsentModel.OptIn, bool gpc = false, int current = 1,
        int reconsentFrom = 1, PurposeStatus status = PurposeStatus.Active) =>
        new("newsletter", status, current, reconsentFrom, model, gpc);

    private static ConsentState State(Decision decision, int version = 1, DateTimeOffset? expiresAt = null) => new()
    {
        CustomerId = "c-42", PurposeKey = "newsletter", Decision = decision, PurposeVersion = version,
        DecidedAt = Now.AddDays(-1), ExpiresAt = expiresAt,
    };

    [Theory]
    [InlineData(ConsentModel.OptIn, false, false, ConsentStatus.None, false)]
    [InlineData(ConsentModel.OptOut, false, false, ConsentStatus.None, true)]
    [InlineData(ConsentModel.OptOut, true, false, ConsentStatus.None, true)]
    [InlineData(ConsentModel.OptOut, true, true, ConsentStatus.None, false)]
    [InlineData(ConsentModel.OptOut, false, true, ConsentStatus.None, true)]
    public void NoDecision_IsActiveOnlyForOptOutWithoutAnHonouredGpcSignal(ConsentModel model, bool honorsGpc, bool gpcSignal,
        ConsentStatus status, bool active)
    {
        var verdict = ConsentRules.Evaluate(null, Terms(model, honorsGpc), Now, gpcSignal);

        Assert.Equal(status, verdict.Status);
        Assert.Equal(active, verdict.Active);
    }

    [Fact]
    public void Grant_IsActiveUntilTheMomentItExpires()
    {
        var terms = Terms();
        var state = State(Decision.Granted, expiresAt: Now.AddSeconds(1));

        Assert.True(ConsentRules.Evaluate(state, terms, Now, false).Active);
        Assert.Equal(ConsentStatus.Expired, ConsentRules.Evaluate(state, terms, Now.AddSeconds(1), false).Status);
        Assert.False(ConsentRules.Evaluate(state, terms, Now.AddSeconds(1), false).Active);
    }

    [Fact]
    public void Grant_OfAVersionBeforeARequiredReconsent_IsOutdated()
    {
        var verdict = ConsentRules.Evaluate(State(Decision.Granted, version: 1), Terms(current: 3, reconsentFrom: 2), Now, false);

        Assert.Equal(ConsentStatus.Outdated, verdict.Status);
        Assert.False(verdict.Active);
    }

    [Fact]
    public void Grant_OfAVersionAtOrAfterTheReconsentVersion_Counts()
    {
        var verdict = ConsentRules.Evaluate(State(Decision.Granted, version: 2), Terms(current: 3, reconsentFrom: 2), Now, false);

        Assert.Equal(ConsentStatus.Granted, verdict.Status);
        Assert.True(verdict.Active);
    }

    [Fact]
    public void Revocation_IsNeverActive_EvenForOptOut()
    {
        var verdict = ConsentRules.Evaluate(State(Decision.Revoked), Terms(ConsentModel.OptOut), Now, false);

        Assert.Equal(ConsentStatus.Revoked, verdict.Status);
        Assert.False(verdict.Active);
    }

    [Fact]
    public void RetiredPurpose_IsNeverActive()
    {
        var verdict = ConsentRules.Evaluate(State(Decision.Granted), Terms(status: PurposeStatus.Retired), Now, false);

        Assert.Equal(ConsentStatus.Granted, verdict.Status);
        Assert.False(verdict.Active);
    }
}
