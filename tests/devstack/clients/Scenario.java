// The client scenario (tests/devstack/client_scenario.py) driven by the official Java client.
// Usage: java -cp <diffusion-client jars>:<classes> Scenario <ws url> <topic root>
// Prints the transcript as one JSON object on stdout; the Python test compares it with the one
// every client must produce. Errors are reported by the exception's simple name, mapped to the
// reason code the server sent (IncompatibleTopicException 500, NoSuchTopicException 9000).

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.pushtechnology.diffusion.client.Diffusion;
import com.pushtechnology.diffusion.client.features.TopicCreationResult;
import com.pushtechnology.diffusion.client.features.TopicUpdate;
import com.pushtechnology.diffusion.client.features.Topics;
import com.pushtechnology.diffusion.client.features.UpdateStream;
import com.pushtechnology.diffusion.client.features.control.topics.TopicControl;
import com.pushtechnology.diffusion.client.session.Session;
import com.pushtechnology.diffusion.client.topics.details.TopicSpecification;
import com.pushtechnology.diffusion.client.topics.details.TopicType;
import com.pushtechnology.diffusion.datatype.json.JSON;

public final class Scenario {
    private static final Map<String, Integer> ERROR_CODES = Map.of(
        "IncompatibleTopicException", 500,
        "NoSuchTopicException", 9000);

    private final String root;
    private final List<String> steps = new ArrayList<>();
    private final Map<String, List<String>> values = new LinkedHashMap<>(); // path -> JSON texts
    private final Map<String, Integer> unsubscribed = new LinkedHashMap<>();

    private Scenario(String root) {
        this.root = root;
    }

    public static void main(String[] args) throws Exception {
        final Scenario scenario = new Scenario(args[1]);
        scenario.run(args[0]);
        System.out.println(scenario.transcript());
        System.exit(0); // the client's threads would keep the JVM alive
    }

    private String relative(String path) {
        return path.substring(root.length() + 1);
    }

    private synchronized void record(String path, String json) {
        values.computeIfAbsent(relative(path), k -> new ArrayList<>()).add(json);
    }

    private synchronized void unsubscribedFrom(String path, Topics.UnsubscribeReason reason) {
        final int code;
        switch (reason.name()) {
            case "REQUESTED": code = 0; break;
            case "REMOVAL": code = 2; break;
            default: code = -1;
        }
        unsubscribed.put(relative(path), code);
    }

    private synchronized int valueCount(String path) {
        return values.getOrDefault(path, List.of()).size();
    }

    private synchronized int unsubscribedCount() {
        return unsubscribed.size();
    }

    private void step(String name, Callable<Object> action) {
        String entry;
        try {
            final Object result = action.call();
            entry = "\"result\":" + (result instanceof Number ? result.toString() : quote(String.valueOf(result)));
        }
        catch (Exception e) {
            Throwable cause = e;
            while (cause.getCause() != null && !ERROR_CODES.containsKey(cause.getClass().getSimpleName())) {
                cause = cause.getCause();
            }
            final Integer code = ERROR_CODES.get(cause.getClass().getSimpleName());
            entry = "\"error\":" + (code != null ? code.toString() : quote(cause.toString()));
        }
        steps.add("{\"step\":" + quote(name) + "," + entry + "}");
    }

    private static void waitFor(Callable<Boolean> condition) throws Exception {
        for (int i = 0; i < 100 && !condition.call(); i++) {
            Thread.sleep(50);
        }
    }

    private void run(String url) throws Exception {
        step("connect with a wrong password", () -> {
            try {
                Diffusion.sessions().principal("admin").password("wrong").open(url).close();
                return "accepted";
            }
            catch (Exception e) {
                return e.getClass().getSimpleName().contains("Authentication") ? "refused" : e.toString();
            }
        });
        final Session session = Diffusion.sessions().principal("admin").password("password").open(url);
        final Topics topics = session.feature(Topics.class);
        final TopicControl control = session.feature(TopicControl.class);
        final TopicUpdate update = session.feature(TopicUpdate.class);

        topics.addStream("?" + root + "/json/.*", JSON.class, new Topics.ValueStream.Default<JSON>() {
            @Override
            public void onValue(String path, TopicSpecification spec, JSON oldValue, JSON newValue) {
                record(path, newValue.toJsonString());
            }

            @Override
            public void onUnsubscription(String path, TopicSpecification spec, Topics.UnsubscribeReason reason) {
                unsubscribedFrom(path, reason);
            }
        });
        topics.addStream(">" + root + "/text", String.class, new Topics.ValueStream.Default<String>() {
            @Override
            public void onValue(String path, TopicSpecification spec, String oldValue, String newValue) {
                record(path, quote(newValue));
            }

            @Override
            public void onUnsubscription(String path, TopicSpecification spec, Topics.UnsubscribeReason reason) {
                unsubscribedFrom(path, reason);
            }
        });
        topics.subscribe("?" + root + "//").join();

        final String jsonA = root + "/json/a";
        step("add json/a", () -> control.addTopic(jsonA, TopicType.JSON).join().name().toLowerCase());
        step("add json/a again", () -> control.addTopic(jsonA, TopicType.JSON).join().name().toLowerCase());
        step("set json/a", () -> {
            update.set(jsonA, JSON.class, json("{\"px\":1}")).join();
            return "ok";
        });
        step("add and set json/b", () -> {
            final TopicCreationResult result = update.addAndSet(
                root + "/json/b", Diffusion.newTopicSpecification(TopicType.JSON), JSON.class, json("{\"px\":2}")).join();
            return result.name().toLowerCase();
        });
        step("add text", () -> control.addTopic(root + "/text", TopicType.STRING).join().name().toLowerCase());
        step("update stream on text", () -> {
            final UpdateStream<String> stream = update.newUpdateStreamBuilder().build(root + "/text", String.class);
            for (String value : new String[] {"a", "b", "c"}) {
                stream.set(value).join();
            }
            return "ok";
        });
        step("set json/a with a string", () -> {
            update.set(jsonA, String.class, "x").join();
            return "ok";
        });
        step("set a missing topic", () -> {
            update.set(root + "/missing", JSON.class, json("{}")).join();
            return "ok";
        });
        waitFor(() -> valueCount("text") >= 3);
        step("unsubscribe text", () -> {
            topics.unsubscribe(">" + root + "/text").join();
            return "ok";
        });
        waitFor(() -> unsubscribedCount() >= 1);
        step("set text after unsubscribing", () -> {
            update.set(root + "/text", String.class, "d").join();
            return "ok";
        });
        step("remove all", () -> control.removeTopics("?" + root + "//").join().getRemovedCount());
        waitFor(() -> unsubscribedCount() >= 3);
        session.close();
    }

    private static JSON json(String text) {
        return Diffusion.dataTypes().json().fromJsonString(text);
    }

    private synchronized String transcript() {
        final StringBuilder out = new StringBuilder("{\"steps\":[").append(String.join(",", steps)).append("],\"values\":{");
        String separator = "";
        for (Map.Entry<String, List<String>> entry : values.entrySet()) {
            out.append(separator).append(quote(entry.getKey())).append(":[").append(String.join(",", entry.getValue())).append("]");
            separator = ",";
        }
        out.append("},\"unsubscribed\":{");
        separator = "";
        for (Map.Entry<String, Integer> entry : unsubscribed.entrySet()) {
            out.append(separator).append(quote(entry.getKey())).append(":").append(entry.getValue());
            separator = ",";
        }
        return out.append("}}").toString();
    }

    private static String quote(String text) {
        final StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            }
            else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            }
            else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
