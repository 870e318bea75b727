using ConsentApi.Http;
using FluentValidation;

namespace ConsentApi.Purposes;

public static class PurposeLimits
{
    public const int NameMaxLength = 200;
    public const int DescriptionMaxLength = 4000;
    public const int CategoryDescriptionMaxLength = 1000;
    public const int MaxDataCategories = 100;
    public const int MaxRecipients = 50;
    public const int MaxRetentionDays = 36500;
    public const int MaxConsentLifetimeDays = 3650;
    public const string CategoryKeyPattern = "^[A-Za-z][A-Za-z0-9_.-]{0,63}$";
}

/// <summary>The notice rules, including the two that protect people (DESIGN.md, Purpose).</summary>
public abstract class PurposeNoticeValidator<T> : AbstractValidator<T> where T : PurposeNoticeRequest
{
    protected PurposeNoticeValidator()
    {
        RuleFor(p => p.Name).NotEmpty().PlainText(PurposeLimits.NameMaxLength);
        RuleFor(p => p.Description).NotEmpty().PlainText(PurposeLimits.DescriptionMaxLength, multiline: true);

        RuleFor(p => p.DataCategories).NotNull().Count(1, PurposeLimits.MaxDataCategories)
            .Must(c => c is null || c.Where(x => x?.Key is not null).GroupBy(x => x.Key, StringComparer.Ordinal).All(g => g.Count() == 1))
            .WithMessage("Each data category key may appear only once.");
        RuleForEach(p => p.DataCategories).NotNull().SetValidator(new DataCategoryValidator());

        RuleFor(p => p.Recipients).Count(0, PurposeLimits.MaxRecipients);
        RuleForEach(p => p.Recipients).NotNull().SetValidator(new RecipientValidator());

        RuleFor(p => p.RetentionDays).NotNull().InclusiveBetween(1, PurposeLimits.MaxRetentionDays);
        RuleFor(p => p.LegalBasis).NotNull().IsInEnum();
        RuleFor(p => p.ConsentModel).NotNull().IsInEnum();
        RuleFor(p => p.ConsentLifetimeDays).InclusiveBetween(1, PurposeLimits.MaxConsentLifetimeDays);
        RuleFor(p => p.OnRevoke).IsInEnum();

        // No discriminatory use: special-category data never feeds automated decisions (GDPR Art. 22(4)).
        RuleFor(p => p.AutomatedDecisions)
            .Must((p, automated) => automated != true || !DeclaresSensitive(p))
            .WithMessage("A purpose used for profiling or automated decisions may not declare a sensitive data category.");

        // Special-category data needs explicit consent (GDPR Art. 9(2)(a)): never opt-out.
        RuleFor(p => p.ConsentModel)
            .Must((p, model) => model != ConsentModel.OptOut || !DeclaresSensitive(p))
            .WithMessage("A purpose that declares a sensitive data category must be opt-in.");
    }

    private static bool DeclaresSensitive(PurposeNoticeRequest p) =>
        p.DataCategories?.Any(c => c?.Sensitive == true) == true;
}

public sealed class DataCategoryValidator : AbstractValidator<DataCategoryRequest>
{
    public DataCategoryValidator()
    {
        RuleFor(c => c.Key).NotEmpty().MaximumLength(64).Matches(PurposeLimits.CategoryKeyPattern)
            .WithMessage("'{PropertyName}' must start with a letter and hold only letters, digits, '_', '.' and '-' (at most 64).");
        RuleFor(c => c.Description).NotEmpty().PlainText(PurposeLimits.CategoryDescriptionMaxLength);
        RuleFor(c => c.Sensitive).NotNull();
    }
}

public sealed class RecipientValidator : AbstractValidator<RecipientRequest>
{
    public RecipientValidator()
    {
        RuleFor(r => r.Name).NotEmpty().PlainText(PurposeLimits.NameMaxLength);
        RuleFor(r => r.ThirdParty).NotNull();
    }
}

public sealed class CreatePurposeValidator : PurposeNoticeValidator<CreatePurposeRequest>
{
    public CreatePurposeValidator()
    {
        RuleFor(p => p.Key).NotEmpty().MaximumLength(64).Matches(ValidationRules.KeyPattern)
            .WithMessage("'{PropertyName}' must be 2–64 lower-case letters, digits or '-', starting with a letter or digit.");
    }
}

public sealed class UpdatePurposeValidator : PurposeNoticeValidator<UpdatePurposeRequest>;
