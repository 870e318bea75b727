using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ConsentApi.Data.Migrations
{
    /// <inheritdoc />
    public partial class DataRecords : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "data_records",
                columns: table => new
                {
                    customer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    purpose_key = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    purpose_version = table.Column<int>(type: "integer", nullable: false),
                    field_names = table.Column<List<string>>(type: "text[]", nullable: false),
                    key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ciphertext = table.Column<byte[]>(type: "bytea", nullable: false),
                    collected_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_data_records", x => new { x.customer_id, x.id });
                });

            migrationBuilder.CreateIndex(
                name: "ix_data_records_customer_id_purpose_key",
                table: "data_records",
                columns: new[] { "customer_id", "purpose_key" });

            migrationBuilder.CreateIndex(
                name: "ix_data_records_expires_at",
                table: "data_records",
                column: "expires_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "data_records");
        }
    }
}
