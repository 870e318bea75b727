using ConsentApi.Http;
using ConsentApi.Purposes;

namespace ConsentApi.UnitTests;

public sealed class PurposeValidatorTests
{
    static PurposeValidatorTests() => ValidationFilter.UseJsonNames();

    private static CreatePurposeRequest Valid(bool sensitive = false, bool automated = false, ConsentModel model = ConsentModel.OptIn) => new()
    {
        Key = "newsletter", Name = "Newsletter", Description = "We email you our news weekly.",
        DataCategories = [new DataCategoryRequest { Key = "email", Description = "Your email address", Sensitive = sensitive }],
        RetentionDays = 365, LegalBasis = LegalBasis.Consent, ConsentModel = model, AutomatedDecisions = automated,
    };

    [Fact]
    public void AValidPurpose_Passes() =>
        Assert.True(new CreatePurposeValidator().Validate(Valid()).IsValid);

    [Fact]
    public void SensitiveData_MayNotFeedAutomatedDecisions()
    {
        var result = new CreatePurposeValidator().Validate(Valid(sensitive: true, automated: true));

        Assert.Contains(result.Errors, e => e.PropertyName == "automatedDecisions");
    }

    [Fact]
    public void SensitiveData_MustBeOptIn()
    {
        var result = new CreatePurposeValidator().Validate(Valid(sensitive: true, model: ConsentModel.OptOut));

        Assert.Contains(result.Errors, e => e.PropertyName == "consentModel");
    }

    [Fact]
    public void SensitiveOptInWithoutAutomatedDecisions_Passes() =>
        Assert.True(new CreatePurposeValidator().Validate(Valid(sensitive: true)).IsValid);

    [Theory]
    [InlineData("Newsletter")]
    [InlineData("a")]
    [InlineData("-news")]
    [InlineData("news letter")]
    public void Key_MustBeASlug(string key)
    {
        var result = new CreatePurposeValidator().Validate(Valid() with { Key = key });

        Assert.Contains(result.Errors, e => e.PropertyName == "key");
    }

    [Fact]
    public void ErrorPaths_UseJsonNamesForNestedFields()
    {
        var request = Valid() with { DataCategories = [new DataCategoryRequest { Key = "email", Description = "x" }] };

        var result = new CreatePurposeValidator().Validate(request);

        Assert.Contains(result.Errors, e => e.PropertyName == "dataCategories[0].sensitive");
    }
}
