using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json.Serialization;
using ConsentApi.Http;
using ConsentApi.Purposes;

namespace ConsentApi.Consents;

/// <summary>
/// The controller named on Kantara receipts (configuration section <c>Controller</c>). Nothing
/// here is required: an unconfigured controller still yields a well-formed receipt, whose name
/// says that it is unconfigured, and whose other fields are empty strings rather than invented.
/// </summary>
public sealed class ControllerSettings
{
    public const string UnconfiguredName = "ConsentApi controller (set Controller:Name)";

    public string? Name { get; set; }
    public string? Contact { get; set; }
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public string? Address { get; set; }
    public string? Jurisdiction { get; set; }
    public string? PolicyUrl { get; set; }
    public string Language { get; set; } = "en";
}

/// <summary>A receipt in the Kantara Initiative Consent Receipt Specification v1.1 format (<c>KI-CR-v1.1.0</c>).</summary>
public sealed record KantaraReceipt
{
    public const string SpecVersion = "KI-CR-v1.1.0";
    public const string MediaType = "application/vnd.kantara.consent-receipt+json";

    /// <example>KI-CR-v1.1.0</example>
    [JsonPropertyName("version")]
    public required string Version { get; init; }

    /// <summary>Where the controller is established (from <c>Controller:Jurisdiction</c>).</summary>
    /// <example>EU</example>
    [JsonPropertyName("jurisdiction")]
    public required string Jurisdiction { get; init; }

    /// <summary>When the receipt was issued, in seconds since the Unix epoch.</summary>
    /// <example>1764590400</example>
    [JsonPropertyName("consentTimestamp")]
    public required long ConsentTimestamp { get; init; }

    /// <summary>The receipt's collection point, or its source when it has none.</summary>
    /// <example>signup-form</example>
    [JsonPropertyName("collectionMethod")]
    public required string CollectionMethod { get; init; }

    /// <summary>The receipt id.</summary>
    [JsonPropertyName("consentReceiptID")]
    public required string ConsentReceiptId { get; init; }

    /// <summary>Receipts are not signed: always omitted.</summary>
    [JsonPropertyName("publicKey")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PublicKey { get; init; }

    /// <example>en</example>
    [JsonPropertyName("language")]
    public required string Language { get; init; }

    /// <summary>The business's own id for the customer.</summary>
    /// <example>c-42</example>
    [JsonPropertyName("piiPrincipalId")]
    public required string PiiPrincipalId { get; init; }

    [JsonPropertyName("piiControllers")]
    public required IReadOnlyList<KantaraPiiController> PiiControllers { get; init; }

    /// <example>https://example.com/privacy</example>
    [JsonPropertyName("policyUrl")]
    public required string PolicyUrl { get; init; }

    [JsonPropertyName("services")]
    public required IReadOnlyList<KantaraService> Services { get; init; }

    /// <summary>True when any decision's notice declares a sensitive data category.</summary>
    [JsonPropertyName("sensitive")]
    public required bool Sensitive { get; init; }

    /// <summary>The sensitive data categories (their descriptions), each once.</summary>
    [JsonPropertyName("spiCat")]
    public required IReadOnlyList<string> SpiCat { get; init; }

    /// <summary>
    /// Fills a Kantara receipt from one of ours and the notices its decisions name.
    /// </summary>
    /// <remarks>
    /// Every decision of the receipt becomes a Kantara purpose, a withdrawal too: a receipt is the
    /// record of what was decided, and leaving withdrawals out would make a receipt that withdrew
    /// consent look empty (or, mixed with grants, look like it granted everything). A withdrawal
    /// says so in <c>purposeTermination</c> ("Consent withdrawn at …") instead of the lifetime.
    /// Each purpose is described from the exact version the decision names, never the current one,
    /// so the receipt shows what the customer saw.
    /// </remarks>
    /// <param name="receipt">Our receipt.</param>
    /// <param name="versions">The purpose versions, by (purpose key, version); must hold every one the receipt names.</param>
    /// <param name="controller">The controller's settings.</param>
    public static KantaraReceipt From(ReceiptResponse receipt,
        IReadOnlyDictionary<(string Purpose, int Version), PurposeVersion> versions, ControllerSettings controller)
    {
        var notices = receipt.Decisions.Select(d => versions.TryGetValue((d.Purpose, d.PurposeVersion), out var v)
            ? v
            : throw new InvalidOperationException($"Purpose version {d.Purpose} v{d.PurposeVersion} of receipt {receipt.ReceiptId} is missing.")).ToList();
        var controllerName = string.IsNullOrWhiteSpace(controller.Name) ? ControllerSettings.UnconfiguredName : controller.Name;

        return new KantaraReceipt
        {
            Version = SpecVersion,
            Jurisdiction = controller.Jurisdiction ?? "",
            ConsentTimestamp = receipt.IssuedAt.ToUnixTimeSeconds(),
            CollectionMethod = receipt.CollectionPoint ?? JsonSetup.EnumNaming.ConvertName(receipt.Source.ToString()),
            ConsentReceiptId = receipt.ReceiptId.ToString(),
            Language = string.IsNullOrWhiteSpace(controller.Language) ? "en" : controller.Language,
            PiiPrincipalId = receipt.CustomerId,
            PiiControllers =
            [
                new KantaraPiiController
                {
                    PiiController = controllerName,
                    OnBehalf = false,
                    Contact = controller.Contact ?? "",
                    Address = controller.Address ?? "",
                    Email = controller.Email ?? "",
                    Phone = controller.Phone ?? "",
                },
            ],
            PolicyUrl = controller.PolicyUrl ?? "",
            Services =
            [
                new KantaraService
                {
                    Service = controllerName,
                    Purposes = receipt.Decisions.Zip(notices, (d, v) => ToPurpose(d, v, receipt.IssuedAt)).ToList(),
                },
            ],
            Sensitive = notices.Exists(v => v.DeclaresSensitiveData),
            SpiCat = notices.SelectMany(v => v.DataCategories).Where(c => c.Sensitive).Select(c => c.Description).Distinct().ToList(),
        };
    }

    private static KantaraPurpose ToPurpose(ReceiptDecision decision, PurposeVersion notice, DateTimeOffset issuedAt)
    {
        var thirdParties = notice.Recipients.Where(r => r.ThirdParty).Select(r => r.Name).ToList();
        return new KantaraPurpose
        {
            Purpose = $"{notice.Name}: {notice.Description}",
            PurposeCategory = [LegalBasisInWords(notice.LegalBasis)],
            ConsentType = notice.ConsentModel == ConsentModel.OptIn ? "EXPLICIT" : "IMPLIED",
            PurposeTermination = Termination(decision, notice, issuedAt),
            PrimaryPurpose = true,
            PiiCategory = notice.DataCategories.Select(c => c.Description).ToList(),
            ThirdPartyDisclosure = thirdParties.Count > 0,
            ThirdPartyName = string.Join(", ", thirdParties),
        };
    }

    private static string Termination(ReceiptDecision decision, PurposeVersion notice, DateTimeOffset issuedAt)
    {
        if (!decision.Granted)
        {
            return $"Consent withdrawn at {issuedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}.";
        }

        var lifetime = notice.ConsentLifetimeDays is { } days
            ? $"Consent expires {days} days after it is given; withdraw it at any time."
            : "Until withdrawn.";
        return $"{lifetime} Data collected for this purpose is kept for {notice.RetentionDays} days.";
    }

    private static string LegalBasisInWords(LegalBasis basis) => basis switch
    {
        LegalBasis.Consent => "consent",
        LegalBasis.Contract => "contract",
        LegalBasis.LegalObligation => "legal obligation",
        LegalBasis.VitalInterests => "vital interests",
        LegalBasis.PublicTask => "public task",
        LegalBasis.LegitimateInterests => "legitimate interests",
        _ => throw new ArgumentOutOfRangeException(nameof(basis), basis, null),
    };
}

/// <summary>The controller of the personal data (Kantara <c>piiControllers</c> entry).</summary>
public sealed record KantaraPiiController
{
    /// <example>Example Ltd</example>
    [JsonPropertyName("piiController")]
    public required string PiiController { get; init; }

    /// <summary>False: the controller acts on its own behalf.</summary>
    [JsonPropertyName("onBehalf")]
    public required bool OnBehalf { get; init; }

    [JsonPropertyName("contact")]
    public required string Contact { get; init; }

    [JsonPropertyName("address")]
    public required string Address { get; init; }

    [JsonPropertyName("email")]
    public required string Email { get; init; }

    [JsonPropertyName("phone")]
    public required string Phone { get; init; }

    /// <summary>Not configured here: always omitted.</summary>
    [JsonPropertyName("piiControllerUrl")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PiiControllerUrl { get; init; }
}

/// <summary>One service of the controller and the purposes decided for it.</summary>
public sealed record KantaraService
{
    /// <summary>The controller's name: this API records consent for one service.</summary>
    [JsonPropertyName("service")]
    public required string Service { get; init; }

    [JsonPropertyName("purposes")]
    public required IReadOnlyList<KantaraPurpose> Purposes { get; init; }
}

/// <summary>One decision of the receipt, described from the purpose version it names.</summary>
public sealed record KantaraPurpose
{
    /// <summary>The version's name and description.</summary>
    /// <example>Newsletter: We email you our news weekly.</example>
    [JsonPropertyName("purpose")]
    [MaxLength(PurposeLimits.NameMaxLength + 2 + PurposeLimits.DescriptionMaxLength)]
    public required string Purpose { get; init; }

    /// <summary>The lawful basis, in words (<c>consent</c>, <c>legitimate interests</c>, …).</summary>
    [JsonPropertyName("purposeCategory")]
    public required IReadOnlyList<string> PurposeCategory { get; init; }

    /// <summary><c>EXPLICIT</c> for opt-in purposes, <c>IMPLIED</c> for opt-out ones.</summary>
    /// <example>EXPLICIT</example>
    [JsonPropertyName("consentType")]
    public required string ConsentType { get; init; }

    /// <summary>When consent ends (the lifetime, or "Until withdrawn.") and how long data is kept; for a withdrawal, when it was withdrawn.</summary>
    /// <example>Consent expires 395 days after it is given; withdraw it at any time. Data collected for this purpose is kept for 365 days.</example>
    [JsonPropertyName("purposeTermination")]
    public required string PurposeTermination { get; init; }

    [JsonPropertyName("primaryPurpose")]
    public required bool PrimaryPurpose { get; init; }

    /// <summary>The data categories (their descriptions).</summary>
    [JsonPropertyName("piiCategory")]
    public required IReadOnlyList<string> PiiCategory { get; init; }

    /// <summary>True when any recipient is a third party.</summary>
    [JsonPropertyName("thirdPartyDisclosure")]
    public required bool ThirdPartyDisclosure { get; init; }

    /// <summary>The third-party recipients, joined with ", "; empty when none.</summary>
    /// <example>Mailer Ltd</example>
    [JsonPropertyName("thirdPartyName")]
    public required string ThirdPartyName { get; init; }
}
