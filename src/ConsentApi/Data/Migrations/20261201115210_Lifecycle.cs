using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ConsentApi.Data.Migrations
{
    /// <inheritdoc />
    public partial class Lifecycle : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "deletion_log",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    purpose_key = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    record_count = table.Column<int>(type: "integer", nullable: false),
                    reason = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    deleted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_deletion_log", x => new { x.customer_id, x.id });
                });

            migrationBuilder.CreateIndex(
                name: "ix_consent_states_expires_at",
                table: "consent_states",
                column: "expires_at",
                filter: "decision = 'granted'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "deletion_log");

            migrationBuilder.DropIndex(
                name: "ix_consent_states_expires_at",
                table: "consent_states");
        }
    }
}
