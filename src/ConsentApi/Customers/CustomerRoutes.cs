using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Http;

namespace ConsentApi.Customers;

public static class CustomerRoutes
{
    /// <summary>
    /// Everything under <c>/customers/{customerId}</c>. A customer exists implicitly: there is no
    /// customer resource to create, and an unknown customer's lists are simply empty.
    /// </summary>
    public static RouteGroupBuilder MapCustomers(this RouteGroupBuilder api)
    {
        var customers = api.MapGroup("/customers/{customerId}").AddEndpointFilter(CheckCustomerId);
        customers.MapConsents();
        customers.MapCollection();
        customers.MapCustomerRights();
        return customers;
    }

    private static async ValueTask<object?> CheckCustomerId(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var customerId = context.HttpContext.GetRouteValue("customerId") as string ?? "";
        return ValidationRules.CheckCustomerId(customerId) is { } problem
            ? Problems.Validation("customerId", problem)
            : await next(context);
    }
}
