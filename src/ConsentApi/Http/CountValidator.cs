using FluentValidation;
using FluentValidation.Validators;

namespace ConsentApi.Http;

/// <summary>Bounds a list's length; the OpenAPI document publishes it as minItems/maxItems.</summary>
public sealed class CountValidator<T, TItem>(int min, int max) : PropertyValidator<T, IReadOnlyList<TItem>?>, ICountValidator
{
    public int Min { get; } = min;
    public int Max { get; } = max;
    public override string Name => "CountValidator";

    public override bool IsValid(ValidationContext<T> context, IReadOnlyList<TItem>? value)
    {
        if (value is null || (value.Count >= Min && value.Count <= Max))
        {
            return true;
        }

        context.MessageFormatter.AppendArgument("Min", Min).AppendArgument("Max", Max);
        return false;
    }

    protected override string GetDefaultMessageTemplate(string errorCode) =>
        "'{PropertyName}' must hold between {Min} and {Max} items.";
}

public interface ICountValidator
{
    int Min { get; }
    int Max { get; }
}

public static class CountValidatorExtensions
{
    public static IRuleBuilderOptions<T, IReadOnlyList<TItem>?> Count<T, TItem>(this IRuleBuilder<T, IReadOnlyList<TItem>?> rule, int min, int max) =>
        rule.SetValidator(new CountValidator<T, TItem>(min, max));
}
