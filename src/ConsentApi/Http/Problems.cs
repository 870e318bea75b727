using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentApi.Http;

/// <summary>The problem answers that endpoints return; every one carries a stable type.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found", type: ProblemTypes.NotFound);

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict", type: ProblemTypes.Conflict);

    public static ProblemHttpResult PreconditionFailed(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status412PreconditionFailed, title: "Precondition failed", type: ProblemTypes.Conflict);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.ValidationProblem(errors, detail, title: "The request is not valid", type: ProblemTypes.ValidationFailed);

    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>A well-formed request that refers to something that cannot be used (422).</summary>
    public static ProblemHttpResult Unprocessable(IDictionary<string, string[]> errors, string detail, string type = ProblemTypes.ValidationFailed) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The request cannot be processed",
            Detail = detail,
            Type = type,
        });

    public static ProblemHttpResult PreconditionRequired(string header) =>
        TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
        {
            [header] = [$"The {header} header is required: send the ETag of the version you are changing."],
        })
        {
            Status = StatusCodes.Status428PreconditionRequired,
            Title = "Precondition required",
            Type = ProblemTypes.ValidationFailed,
        });
}
