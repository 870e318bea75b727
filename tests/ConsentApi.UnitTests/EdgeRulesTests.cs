using ConsentApi.Http;
using ConsentApi.Purposes;

namespace ConsentApi.UnitTests;

public sealed class EdgeRulesTests
{
    [Theory]
    [InlineData("\"3\"", 3, true)]
    [InlineData("*", 7, true)]
    [InlineData("\"2\", \"3\"", 3, true)]
    [InlineData("\"2\"", 3, false)]
    [InlineData("W/\"3\"", 3, false)]
    [InlineData("3", 3, false)]
    public void IfMatch_UsesStrongComparison(string header, int version, bool accepted) =>
        Assert.Equal(accepted, PurposeEndpoints.IfMatchAccepts(header, version));

    [Theory]
    [InlineData("c-42", null)]
    [InlineData("alice@example.com", null)]
    [InlineData("", "empty")]
    [InlineData(" c-42", "white space")]
    [InlineData("c\u000142", "control characters")]
    public void CustomerId_RefusesWhatIsNotAStableId(string customerId, string? problem)
    {
        var message = ValidationRules.CheckCustomerId(customerId);

        if (problem is null)
        {
            Assert.Null(message);
        }
        else
        {
            Assert.Contains(problem, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CustomerId_RefusesMoreThan128Characters()
    {
        Assert.Null(ValidationRules.CheckCustomerId(new string('a', 128)));
        Assert.NotNull(ValidationRules.CheckCustomerId(new string('a', 129)));
    }

    [Theory]
    [InlineData("plain text", false, false)]
    [InlineData("line\nbreak", true, false)]
    [InlineData("line\nbreak", false, true)]
    [InlineData("nul\0byte", true, true)]
    [InlineData("bell\u0007", false, true)]
    [InlineData("emoji \ud83d\ude00", false, false)]
    public void PlainText_RefusesControlCharacters(string value, bool multiline, bool refused) =>
        Assert.Equal(refused, ValidationRules.HasControlCharacters(value, multiline));

    [Fact]
    public void PlainText_RefusesALoneSurrogate() =>
        // Built at run time: a lone surrogate does not survive as an attribute argument.
        Assert.True(ValidationRules.HasControlCharacters("lone " + (char)0xD83D + " surrogate"));

    [Theory]
    [InlineData("$.decisions[0].granted", "decisions[0].granted")]
    [InlineData("$", "body")]
    [InlineData(null, "body")]
    [InlineData("$.source", "source")]
    public void JsonPath_BecomesTheFieldName(string? path, string field) =>
        Assert.Equal(field, ProblemExceptionHandler.JsonPathToField(path));

    [Fact]
    public void Cursor_RoundTripsAndRefusesGarbage()
    {
        Assert.True(Paging.TryDecode(Paging.Encode("newsletter"), out var position));
        Assert.Equal("newsletter", position);
        Assert.False(Paging.TryDecode("%%%not-base64%%%", out _));
        Assert.False(Paging.TryDecode(new string('A', 600), out _));
    }
}
