using System.Reflection;
using FluentValidation;

namespace ConsentApi.Http;

/// <summary>
/// Runs the FluentValidation validator of every handler argument that has one, before the
/// handler: a failure is a 400 <c>validation-failed</c> problem with errors keyed by field path.
/// </summary>
public static class ValidationFilter
{
    public static TBuilder WithValidation<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(Create);

    private static EndpointFilterDelegate Create(EndpointFilterFactoryContext context, EndpointFilterDelegate next)
    {
        var validated = context.MethodInfo.GetParameters()
            .Select((parameter, index) => (index, validator: FindValidator(context.ApplicationServices, parameter)))
            .Where(p => p.validator is not null)
            .ToArray();
        if (validated.Length == 0)
        {
            return next;
        }

        return async invocation =>
        {
            foreach (var (index, validator) in validated)
            {
                if (invocation.Arguments[index] is not { } argument)
                {
                    continue; // a missing body is refused by the binder already
                }

                var result = await validator!.ValidateAsync(
                    new ValidationContext<object>(argument), invocation.HttpContext.RequestAborted);
                if (!result.IsValid)
                {
                    return Problems.Validation(result.ToDictionary());
                }
            }

            return await next(invocation);
        };
    }

    private static IValidator? FindValidator(IServiceProvider services, ParameterInfo parameter) =>
        services.GetService(typeof(IValidator<>).MakeGenericType(parameter.ParameterType)) as IValidator;

    /// <summary>Error keys and messages use the JSON names: "decisions[0].granted".</summary>
    public static void UseJsonNames()
    {
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : Camel(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : Camel(member.Name);
    }

    private static string Camel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];
}
