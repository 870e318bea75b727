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
builder.Services.AddConsentSwagger();
builder.Services.AddConsentHealthChecks();
builder.Services.AddValidatorsFromAssemblyContaining<Program>(ServiceLifetime.Singleton);
ValidationFilter.UseJsonNames();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddScoped<ConsentLedger>();
builder.Services.AddScoped<ConsentChecker>();
builder.Services.AddSingleton(new ConsentCache(builder.Configuration.GetSection("ConsentCache").Get<ConsentCacheSettings>() ?? new()));
builder.Services.AddHostedService<ConsentChangeListener>();
builder.Services.AddScoped<DataCollector>();
builder.Services.AddScoped<CustomerErasure>();
builder.Services.AddScoped<LifecycleSweeper>();
builder.Services.AddHostedService<LifecycleSweepService>();
builder.Services.AddSingleton(new FieldEncryption(builder.Configuration)); // fails the start when keys are missing

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
