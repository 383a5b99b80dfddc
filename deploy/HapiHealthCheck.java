// Health check for the hapiproject/hapi container, which is distroless (no shell, curl or wget).
// docker-compose.yml mounts this file and runs it with Java's single-file source launcher:
//   java /healthcheck/HapiHealthCheck.java [url]
// Exit 0 when the FHIR endpoint answers GET /fhir/metadata with a CapabilityStatement, 1 otherwise.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class HapiHealthCheck {
    public static void main(String[] args) {
        String url = args.length > 0 ? args[0] : "http://localhost:8080/fhir/metadata";
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
            HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(8))
                .header("Accept", "application/fhir+json")
                .GET().build();
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            boolean ok = response.statusCode() == 200 && response.body().contains("CapabilityStatement");
            System.exit(ok ? 0 : 1);
        } catch (Exception e) {
            System.exit(1);
        }
    }
}
