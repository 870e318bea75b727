namespace ConsentApi.Auth;

/// <summary>Role names as they appear in claims, and the authorization policies built on them.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Service = "service";

    /// <summary>Admins manage the platform; they may also do what services do.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Back-end services (and admins).</summary>
    public const string ServicePolicy = "service";

    public const string KeyIdClaim = "consentapi:key-id";
}
