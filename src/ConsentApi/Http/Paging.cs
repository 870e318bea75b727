using System.Buffers.Text;
using System.Text;

namespace ConsentApi.Http;

/// <summary>A page of a list: <c>nextCursor</c> is null on the last page.</summary>
/// <param name="Items">The items of this page.</param>
/// <param name="NextCursor">Pass as <c>cursor</c> to get the next page; null when there is none.</param>
public sealed record ListResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>Cursor paging: opaque cursors that encode the position after the last item shown.</summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    /// <summary>Checks <c>limit</c>; returns the error message, or null.</summary>
    public static string? CheckLimit(int? limit) =>
        limit is null or (>= 1 and <= MaxLimit) ? null : $"'limit' must be between 1 and {MaxLimit}.";

    // Strict: a cursor that is not UTF-8 text was not made by Encode.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads a list's <c>cursor</c> and <c>limit</c>: the page size and the position after which the
    /// page starts, or the 400 problem naming the parameter at fault. <paramref name="isPosition"/>
    /// checks that a decoded cursor has the shape this list issues.
    /// </summary>
    public static (int Take, string? After, Microsoft.AspNetCore.Http.HttpResults.ValidationProblem? Problem) Read(
        string? cursor, int? limit, Func<string, bool>? isPosition = null)
    {
        if (CheckLimit(limit) is { } limitError)
        {
            return (0, null, Problems.Validation("limit", limitError));
        }

        if (!TryDecode(cursor, out var after) || (after is not null && isPosition?.Invoke(after) == false))
        {
            return (0, null, Problems.Validation("cursor", "'cursor' is not a cursor this API issued."));
        }

        return (limit ?? DefaultLimit, after, null);
    }

    public static string Encode(string position) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(position));

    public static bool TryDecode(string? cursor, out string? position)
    {
        position = null;
        if (string.IsNullOrEmpty(cursor))
        {
            return true;
        }

        if (cursor.Length > 512)
        {
            return false;
        }

        try
        {
            var decoded = StrictUtf8.GetString(Base64Url.DecodeFromChars(cursor));
            if (ValidationRules.HasControlCharacters(decoded))
            {
                return false; // a NUL cannot even be sent to PostgreSQL
            }

            position = decoded;
            return true;
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return false;
        }
    }
}
