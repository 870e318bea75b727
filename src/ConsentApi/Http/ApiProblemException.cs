namespace ConsentApi.Http;

/// <summary>
/// Thrown from deep inside a unit of work when the request must be refused as a whole: the
/// transaction rolls back and <see cref="ProblemExceptionHandler"/> turns it into the problem.
/// </summary>
public sealed class ApiProblemException(int status, string type, string title, string detail,
    IDictionary<string, string[]>? errors = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Title { get; } = title;
    public IDictionary<string, string[]>? Errors { get; } = errors;
}
