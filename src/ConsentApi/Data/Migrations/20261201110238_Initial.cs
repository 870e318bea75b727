using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ConsentApi.Data.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    key_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    prefix = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    revoked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_keys", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "consent_events",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    seq = table.Column<long>(type: "bigint", nullable: false),
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    purpose_key = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    purpose_version = table.Column<int>(type: "integer", nullable: false),
                    decision = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    occurred_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    collection_point = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    receipt_id = table.Column<Guid>(type: "uuid", nullable: false),
                    previous_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_consent_events", x => new { x.customer_id, x.seq });
                });

            migrationBuilder.CreateTable(
                name: "consent_evidence",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    ip_address = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    user_agent = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_consent_evidence", x => new { x.customer_id, x.event_id });
                });

            migrationBuilder.CreateTable(
                name: "consent_states",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    purpose_key = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    decision = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    purpose_version = table.Column<int>(type: "integer", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    last_event_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_consent_states", x => new { x.customer_id, x.purpose_key });
                });

            migrationBuilder.CreateTable(
                name: "idempotency_records",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    key = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    request_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    receipt_id = table.Column<Guid>(type: "uuid", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_idempotency_records", x => new { x.customer_id, x.key });
                });

            migrationBuilder.CreateTable(
                name: "ledger_heads",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    last_seq = table.Column<long>(type: "bigint", nullable: false),
                    last_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_ledger_heads", x => x.customer_id);
                });

            migrationBuilder.CreateTable(
                name: "purposes",
                columns: table => new
                {
                    key = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    current_version = table.Column<int>(type: "integer", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    reconsent_from_version = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_purposes", x => x.key);
                });

            migrationBuilder.CreateTable(
                name: "receipts",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    issued_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    collection_point = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_receipts", x => new { x.customer_id, x.id });
                });

            migrationBuilder.CreateTable(
                name: "purpose_versions",
                columns: table => new
                {
                    purpose_key = table.Column<string>(type: "character varying(64)", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    description = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: false),
                    data_categories = table.Column<string>(type: "jsonb", nullable: false),
                    recipients = table.Column<string>(type: "jsonb", nullable: false),
                    retention_days = table.Column<int>(type: "integer", nullable: false),
                    legal_basis = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    consent_model = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    consent_lifetime_days = table.Column<int>(type: "integer", nullable: true),
                    honors_gpc = table.Column<bool>(type: "boolean", nullable: false),
                    automated_decisions = table.Column<bool>(type: "boolean", nullable: false),
                    on_revoke = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    requires_reconsent = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_purpose_versions", x => new { x.purpose_key, x.version });
                    table.ForeignKey(
                        name: "fk_purpose_versions_purposes_purpose_key",
                        column: x => x.purpose_key,
                        principalTable: "purposes",
                        principalColumn: "key",
                        onDelete: ReferentialAction.Cascade);
                });

            // The ledger is append-only: the database itself refuses to change or remove an event.
            // (Someone who can disable the trigger can still edit rows; the hash chain shows it.)
            migrationBuilder.Sql("""
                CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'consent_events is append-only: % is not allowed', TG_OP
                        USING ERRCODE = 'restrict_violation';
                END $$;
                CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
                    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
                """);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_key_hash",
                table: "api_keys",
                column: "key_hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_consent_events_customer_id_id",
                table: "consent_events",
                columns: new[] { "customer_id", "id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_consent_events_customer_id_receipt_id",
                table: "consent_events",
                columns: new[] { "customer_id", "receipt_id" });

            migrationBuilder.CreateIndex(
                name: "ix_purposes_status",
                table: "purposes",
                column: "status");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER consent_events_append_only ON consent_events; DROP FUNCTION consent_events_append_only();");

            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "consent_events");

            migrationBuilder.DropTable(
                name: "consent_evidence");

            migrationBuilder.DropTable(
                name: "consent_states");

            migrationBuilder.DropTable(
                name: "idempotency_records");

            migrationBuilder.DropTable(
                name: "ledger_heads");

            migrationBuilder.DropTable(
                name: "purpose_versions");

            migrationBuilder.DropTable(
                name: "receipts");

            migrationBuilder.DropTable(
                name: "purposes");
        }
    }
}
