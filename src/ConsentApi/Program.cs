using ConsentApi.Auth;
using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Customers;
using ConsentApi.Data;
using ConsentApi.Health;
using ConsentApi.Http;
using ConsentApi.Lifecycle;
using ConsentApi.OpenApi;
using ConsentApi.Purposes;
using FluentValidation;

var builder = WebApplication.CreateBuilder(args);

builder.AddConsentHttp();
builder.AddConsentDatabase();
builder.AddConsentAuth();
builder.AddConsentRateLimiting();
builder.AddConsents();
builder.AddCollection();
builder.AddLifecycle();
builder.Services.AddConsentSwagger();
builder.Services.AddConsentHealthChecks();
builder.Services.AddValidatorsFromAssemblyContaining<Program>(ServiceLifetime.Singleton);
ValidationFilter.UseJsonNames();
builder.Services.AddSingleton(TimeProvider.System);

var app = builder.Build();

await app.MigrateDatabaseAsync();

app.UseConsentHttp();
app.UseConsentSwagger();
app.UseAuthentication();
app.UseConsentRateLimiting();
app.UseAuthorization();
app.UseConsentEnforcement();

app.MapHealth();
var api = app.MapGroup("/api/v1");
api.MapPurposes();
api.MapCustomers();
api.MapConsentChecks();
api.MapApiKeys();

await app.CheckDeclaredPurposesAsync();
await app.RunAsync();

/// <summary>The entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
