using System.Globalization;
using ConsentApi.Http;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentApi.OpenApi;

/// <summary>
/// Publishes what the FluentValidation validators enforce — required fields, lengths, patterns,
/// ranges, list sizes — so the OpenAPI document and the server can never disagree about a limit.
/// Rules with a condition (<c>When</c>) are left out: they are not unconditional truths.
/// </summary>
public sealed class FluentValidationSchemaFilter(IServiceProvider services) : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema target || target.Properties is null
            || services.GetService(typeof(IValidator<>).MakeGenericType(context.Type)) is not IValidator validator)
        {
            return;
        }

        var descriptor = validator.CreateDescriptor();
        foreach (var (jsonName, property) in target.Properties)
        {
            // Rules are named by the JSON name (ValidationFilter.UseJsonNames), or by the member before that runs.
            var rules = descriptor.GetRulesForMember(jsonName)
                .Concat(descriptor.GetRulesForMember(char.ToUpperInvariant(jsonName[0]) + jsonName[1..]));
            foreach (var rule in rules)
            {
                foreach (var component in rule.Components)
                {
                    if (component.HasCondition || component.HasAsyncCondition || IsCollectionRule(rule))
                    {
                        continue;
                    }

                    Publish(target, jsonName, property as OpenApiSchema, component.Validator);
                }
            }
        }

        // Bodies are strict: the server refuses fields it does not know.
        target.AdditionalPropertiesAllowed = false;
    }

    // RuleForEach rules constrain the items, which their own validators publish on the item schema.
    private static bool IsCollectionRule(IValidationRule rule) =>
        rule.GetType().GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICollectionRule<,>));

    private static void Publish(OpenApiSchema parent, string name, OpenApiSchema? property, IPropertyValidator validator)
    {
        switch (validator)
        {
            case INotNullValidator or INotEmptyValidator:
                parent.Required ??= new HashSet<string>();
                parent.Required.Add(name);
                if (property is not null)
                {
                    property.Type &= ~JsonSchemaType.Null;
                    if (validator is INotEmptyValidator && property.Type == JsonSchemaType.String)
                    {
                        property.MinLength = Math.Max(property.MinLength ?? 0, 1);
                    }
                    else if (validator is INotEmptyValidator && property.Type == JsonSchemaType.Array)
                    {
                        property.MinItems = Math.Max(property.MinItems ?? 0, 1);
                    }
                }

                break;
            case ILengthValidator length when property is not null:
                if (length.Max > 0)
                {
                    property.MaxLength = Math.Min(property.MaxLength ?? int.MaxValue, length.Max);
                }

                if (length.Min > 0)
                {
                    property.MinLength = length.Min;
                }

                break;
            case IRegularExpressionValidator regex when property is not null:
                property.Pattern = regex.Expression;
                break;
            case IBetweenValidator between when property is not null:
                property.Minimum = Convert.ToString(between.From, CultureInfo.InvariantCulture);
                property.Maximum = Convert.ToString(between.To, CultureInfo.InvariantCulture);
                break;
            case ICountValidator count when property is not null:
                property.MinItems = count.Min > 0 ? count.Min : property.MinItems;
                property.MaxItems = count.Max;
                break;
        }
    }
}
