using FluentValidation;

namespace ConsentApi.Http;

/// <summary>Rules shared by every validator, so that a limit is stated (and published) once.</summary>
public static class ValidationRules
{
    public const int CustomerIdMaxLength = 128;
    public const string KeyPattern = "^[a-z0-9][a-z0-9-]{1,63}$";

    /// <summary>
    /// Plain text: within the length limit and free of control characters (a NUL byte cannot even
    /// be stored in PostgreSQL text). Multi-line text may keep line breaks and tabs.
    /// </summary>
    public static IRuleBuilderOptions<T, string?> PlainText<T>(this IRuleBuilder<T, string?> rule, int maxLength, bool multiline = false) =>
        rule.MaximumLength(maxLength)
            .Must(s => s is null || !HasControlCharacters(s, multiline))
            .WithMessage("'{PropertyName}' must not contain control characters.");

    public static bool HasControlCharacters(string value, bool allowLineBreaks = false)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c) && !(allowLineBreaks && c is '\n' or '\r' or '\t'))
            {
                return true;
            }

            // Unpaired surrogates are not text either; they make invalid UTF-8.
            if (char.IsSurrogate(c))
            {
                return HasUnpairedSurrogate(value);
            }
        }

        return false;
    }

    private static bool HasUnpairedSurrogate(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A customer id is the business's own stable id: 1–128 characters, no control characters,
    /// no surrounding white space. Returns the problem message, or null when it is fine.
    /// </summary>
    public static string? CheckCustomerId(string customerId) => customerId switch
    {
        { Length: 0 } => "The customer id must not be empty.",
        { Length: > CustomerIdMaxLength } => $"The customer id must be at most {CustomerIdMaxLength} characters.",
        _ when HasControlCharacters(customerId) => "The customer id must not contain control characters.",
        _ when customerId.Trim().Length != customerId.Length => "The customer id must not start or end with white space.",
        _ => null,
    };
}
