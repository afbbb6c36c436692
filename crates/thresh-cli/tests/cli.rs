//! End-to-end tests of the `thresh` binary: bad input answered with exit code 2 and a message
//! naming the file, line or column; training output; evaluation and prediction; determinism;
//! resuming a killed run.
//!
//! Every test makes its own small data in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn thresh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thresh"))
}

fn run(args: &[&str]) -> Output {
    thresh().args(args).output().expect("thresh runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit code 2 and that standard error contains every `needle`.
fn assert_usage_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Asserts that each of `files` is byte-identical in the directories `a` and `b`.
fn assert_same_files(a: &Path, b: &Path, files: &[&str], what: &str) {
    for file in files {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(x == y, "{file} differs between {what}");
    }
}

/// Runs `thresh predict MODEL EXTRA...` on `input` through standard input; one JSON value
/// per output line.
fn predict_stdin(model: &Path, extra: &[&str], input: &[u8]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = thresh()
        .arg("predict")
        .arg(model)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A learnable three-class text file: the class is given away by a keyword among filler words.
/// A xorshift step of `state`, reduced to `0..n`.
fn below(state: &mut u64, n: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % n as u64) as usize
}

fn write_corpus(path: &Path, rows: usize, seed: u64) {
    let keywords = [
        ("sport", ["match", "goal", "team"]),
        ("food", ["pasta", "bread", "soup"]),
        ("tech", ["laptop", "code", "chip"]),
    ];
    let filler = ["the", "a", "today", "really", "we", "saw", "some", "very", "new", "old"];
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: usize| below(&mut x, n);
    let mut text = String::from("text\tlabel\n");
    for i in 0..rows {
        let (label, words) = keywords[i % 3];
        let mut line = Vec::new();
        for _ in 0..(3 + next(5)) {
            line.push(filler[next(filler.len())]);
        }
        line.insert(next(line.len() + 1), words[next(3)]);
        text.push_str(&format!("{}\t{label}\n", line.join(" ")));
    }
    std::fs::write(path, text).unwrap();
}

const SMALL: &[&str] =
    &["--d-model", "16", "--layers", "1", "--heads", "2", "--d-ff", "32", "--threads", "2"];

fn train_small(dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    let train = dir.join("train.tsv");
    if !train.exists() {
        write_corpus(&train, 300, 1);
    }
    let out = dir.join("model");
    let mut args =
        vec!["train", "--train", train.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    (out, o)
}

#[test]
fn missing_empty_and_headerless_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let o = run(&["train", "--train", "/nonexistent/train.tsv", "--out", out.to_str().unwrap()]);
    assert_usage_error(&o, &["/nonexistent/train.tsv"]);

    let empty = dir.path().join("empty.tsv");
    std::fs::write(&empty, "").unwrap();
    let o = run(&["train", "--train", empty.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_usage_error(&o, &["empty.tsv", "no rows"]);

    let header = dir.path().join("header.tsv");
    std::fs::write(&header, "text\tlabel\n").unwrap();
    let o = run(&["train", "--train", header.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_usage_error(&o, &["header.tsv", "no data rows"]);
}

#[test]
fn missing_column_lists_the_columns_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.csv");
    std::fs::write(&path, "text,label\nhello,a\nbye,b\n").unwrap();
    let out = dir.path().join("m");
    let o = run(&[
        "train",
        "--train",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--label-column",
        "topic",
    ]);
    assert_usage_error(&o, &["train.csv", "topic", "text", "label"]);
}

#[test]
fn one_class_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.tsv");
    std::fs::write(&path, "text\tlabel\nhello\tx\nbye\tx\n").unwrap();
    let out = dir.path().join("m");
    let o = run(&["train", "--train", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_usage_error(&o, &["one.tsv", "class"]);
}

#[test]
fn malformed_rows_name_the_line_or_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tsv");
    let mut bytes = b"text\tlabel\ngood one\ta\nsecond\tb\nbroken row without label\n".to_vec();
    bytes.extend_from_slice(b"caf\xe9 latin\tb\nempty label\t \n");
    for i in 0..60 {
        bytes.extend_from_slice(format!("row {i} x\t{}\n", ["a", "b"][i % 2]).as_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.path().join("m");
    let base = ["train", "--train", path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let o = run(&base);
    assert_usage_error(&o, &["bad.tsv:4"]);

    let mut args = base.to_vec();
    args.extend_from_slice(&["--skip-bad-rows", "--epochs", "1"]);
    args.extend_from_slice(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("skipped 3 bad rows") && text.contains("4, 5, 6"), "{text}");
}

#[test]
fn invalid_utf8_names_line_and_column_and_latin1_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin.tsv");
    let mut bytes = b"sentence\tlabel\n".to_vec();
    for i in 0..40 {
        bytes.extend_from_slice(format!("plain {i}\t{}\n", ["a", "b"][i % 2]).as_bytes());
    }
    bytes.extend_from_slice(b"caf\xe9 au lait\ta\n");
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.path().join("m");
    let base = ["train", "--train", path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let o = run(&base);
    assert_usage_error(&o, &["latin.tsv:42", "sentence", "latin1"]);
    let mut args = base.to_vec();
    args.extend_from_slice(&["--encoding", "latin1", "--epochs", "1"]);
    args.extend_from_slice(SMALL);
    assert!(run(&args).status.success());
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 30, 2);
    let out = dir.path().join("m");
    let o = run(&[
        "train",
        "--train",
        train.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--heads",
        "3",
    ]);
    assert_usage_error(&o, &["--heads"]);
    let config = dir.path().join("run.toml");
    std::fs::write(&config, "epoch = 3\n").unwrap();
    let o = run(&[
        "train",
        "--train",
        train.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_usage_error(&o, &["run.toml", "epoch"]);
}

#[test]
fn keras_lines_without_a_terminal_then_eval_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join("test.tsv");
    write_corpus(&test, 60, 9);
    let test_arg = test.to_str().unwrap();
    let (model, o) = train_small(
        dir.path(),
        &["--epochs", "8", "--lr", "1e-2", "--dropout", "0.1", "--test", test_arg],
    );
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    let epoch = lines.iter().position(|l| *l == "Epoch 1/8").expect("epoch header");
    let bar = lines[epoch + 1];
    assert!(bar.starts_with("9/9 [==============================] - "), "{bar}");
    for part in ["/step - loss: ", " - accuracy: ", " - val_loss: ", " - val_accuracy: "] {
        assert!(bar.contains(part), "{bar}");
    }
    assert!(!text.contains('\r'), "a finished line only when not on a terminal");
    assert!(text.contains("test report") && text.contains("confusion matrix"), "{text}");
    for file in ["model.safetensors", "config.json", "history.json", "metrics.json", "run.json"] {
        assert!(model.join(file).is_file(), "{file} missing");
    }
    assert!(!model.join("checkpoint.safetensors").exists());

    let o = run(&["eval", model.to_str().unwrap(), test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["accuracy"].as_f64().unwrap() > 0.9, "{report}");
    for key in ["macro_f1", "labels", "confusion_matrix", "per_class"] {
        assert!(!report[key].is_null(), "{key}");
    }
    assert_eq!(report["per_class"]["food"]["support"], 20);

    let preds = predict_stdin(&model, &["--top-k", "2"], b"we saw the goal\n\nsome soup today\n");
    assert_eq!(preds.len(), 3, "one line out per line in, blank ones included");
    assert_eq!(preds[0]["label"], "sport");
    assert_eq!(preds[2]["label"], "food");
    assert_eq!(preds[0]["top"].as_array().unwrap().len(), 2);
}

#[test]
fn unseen_labels_at_evaluation_are_reported_and_scored_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_small(dir.path(), &["--epochs", "2"]);
    let test = dir.path().join("test.tsv");
    std::fs::write(&test, "text\tlabel\nthe goal\tsport\nthe soup\tweather\na chip\tweather\n")
        .unwrap();
    let o = run(&["eval", model.to_str().unwrap(), test.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("weather 2"), "{text}");
    let o = run(&["eval", model.to_str().unwrap(), test.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["unknown_labels"]["weather"], 2);
    assert!(report["accuracy"].as_f64().unwrap() <= 1.0 / 3.0 + 1e-9);
}

#[test]
fn missing_truncated_or_corrupt_model_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_small(dir.path(), &["--epochs", "1"]);
    let data = dir.path().join("train.tsv");
    let eval = |m: &Path| run(&["eval", m.to_str().unwrap(), data.to_str().unwrap()]);

    assert_usage_error(&eval(&dir.path().join("nowhere")), &["nowhere"]);

    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    assert_usage_error(&eval(&model), &["model.safetensors"]);
    std::fs::write(&weights, b"garbage").unwrap();
    assert_usage_error(&eval(&model), &["model.safetensors"]);
    std::fs::remove_file(&weights).unwrap();
    assert_usage_error(&eval(&model), &["model.safetensors"]);
    std::fs::write(&weights, &bytes).unwrap();

    let config = model.join("config.json");
    std::fs::write(&config, "{\"format\": ").unwrap();
    assert_usage_error(&eval(&model), &["config.json"]);
    std::fs::remove_file(&config).unwrap();
    assert_usage_error(&eval(&model), &["config.json"]);
}

#[test]
fn same_seed_and_threads_give_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ma, _) = train_small(a.path(), &["--epochs", "3", "--pooling", "mean-max"]);
    let (mb, _) = train_small(b.path(), &["--epochs", "3", "--pooling", "mean-max"]);
    let files = ["model.safetensors", "history.json", "config.json"];
    assert_same_files(&ma, &mb, &files, "identical runs");
    let c = tempfile::tempdir().unwrap();
    let (mc, _) = train_small(c.path(), &["--epochs", "3", "--pooling", "mean-max", "--seed", "7"]);
    assert_ne!(
        std::fs::read(ma.join("model.safetensors")).unwrap(),
        std::fs::read(mc.join("model.safetensors")).unwrap()
    );
}

/// Trains once without interruption and once killed with SIGKILL after its first checkpoint
/// and resumed; the two must end with the same weights and history, and a finished run must
/// refuse to resume.
fn assert_kill_and_resume_match(dir: &Path, args: impl Fn(&Path) -> Vec<String>) {
    let full = dir.join("full");
    let o = thresh().args(args(&full)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let cut = dir.join("cut");
    let mut child = thresh().args(args(&cut)).stdout(Stdio::null()).spawn().unwrap();
    let checkpoint = cut.join("checkpoint.safetensors");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !checkpoint.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run finished before it could be killed");
    assert!(checkpoint.exists());
    assert!(!cut.join("model.safetensors").exists());

    let o = run(&["train", "--resume", cut.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("resuming after epoch"), "{}", stdout(&o));
    for file in ["model.safetensors", "history.json"] {
        let (x, y) =
            (std::fs::read(full.join(file)).unwrap(), std::fs::read(cut.join(file)).unwrap());
        assert!(
            x == y,
            "{file} of the resumed run differs from the uninterrupted one:\n{}\n---\n{}",
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(&y)
        );
    }
    let o = run(&["train", "--resume", cut.to_str().unwrap()]);
    assert_usage_error(&o, &["already finished"]);
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 600, 3);
    let args = |out: &Path| -> Vec<String> {
        let mut a: Vec<String> = ["train", "--train", train.to_str().unwrap(), "--out"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(out.to_str().unwrap().to_string());
        a.extend(SMALL.iter().map(|s| s.to_string()));
        // The moving average of the weights is part of the checkpoint too.
        let extra = ["--epochs", "40", "--patience", "0", "--weight-average", "0.9"];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    assert_kill_and_resume_match(dir.path(), args);
}

#[test]
fn config_file_values_apply_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, "epochs = 2\nbatch_size = 64\n[tokenizer]\nmin_count = 2\n").unwrap();
    let (model, o) =
        train_small(dir.path(), &["--config", config.to_str().unwrap(), "--epochs", "1"]);
    assert!(stdout(&o).contains("Epoch 1/1"), "{}", stdout(&o));
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["options"]["batch_size"], 64);
    assert_eq!(run_json["options"]["epochs"], 1);
    assert_eq!(run_json["options"]["tokenizer"]["min_count"], 2);
    assert_eq!(run_json["data"]["train"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn doctor_reports_simd_and_gemm_rate() {
    let o = run(&["doctor", "--threads", "1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["gemm_gflops"].as_f64().unwrap() > 0.0);
    assert!(!v["simd"].as_str().unwrap().is_empty());
    let int8 = v["int8"].as_str().unwrap();
    assert!(["amx-int8", "avx512-vnni", "avx2", "portable"].contains(&int8), "{int8}");
    assert_eq!(v["threads"], 1);
}

#[test]
fn bag_model_learns_and_gives_the_same_model_on_one_or_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    let test = dir.path().join("test.tsv");
    write_corpus(&train, 600, 4);
    write_corpus(&test, 90, 5);
    let bag = |threads: &str, out: &Path| {
        let o = run(&[
            "train",
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--model",
            "bag",
            "--dim",
            "16",
            "--epochs",
            "5",
            "--lr",
            "0.5",
            "--weight-average",
            "0.9",
            "--threads",
            threads,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let o = bag("1", &one);
    assert!(stdout(&o).contains("Epoch 5/5"), "{}", stdout(&o));
    bag("2", &two);
    let files = ["model.safetensors", "history.json", "metrics.json"];
    assert_same_files(&one, &two, &files, "one and two threads");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"], "bag");
    assert_eq!(config["bag"]["dim"], 16);

    let o = run(&["eval", one.to_str().unwrap(), test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["accuracy"].as_f64().unwrap() > 0.9, "{report}");

    let preds = predict_stdin(&one, &[], b"we saw the goal\nsome soup today\n");
    assert_eq!(preds[0]["label"], "sport");
    assert_eq!(preds[1]["label"], "food");
}

#[test]
fn pretrained_vectors_start_the_table_and_a_width_mismatch_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 300, 6);
    let vec = dir.path().join("words.vec");
    std::fs::write(&vec, "3 4\ngoal 1 0 0 0\nsoup 0 1 0 0\nchip 0 0 1 0\n").unwrap();
    let train_with = |dim: &str, out: &str| {
        run(&[
            "train",
            "--train",
            train.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--model",
            "bag",
            "--dim",
            dim,
            "--epochs",
            "2",
            "--pretrained-vectors",
            vec.to_str().unwrap(),
            "-v",
        ])
    };
    let o = train_with("4", "ok");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("rows_set=3"), "{}", stderr(&o));
    let o = train_with("8", "bad");
    assert_usage_error(&o, &["--pretrained-vectors", "words.vec", "4-dimensional"]);
}

#[test]
fn init_continues_a_saved_model_and_refuses_new_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = train_small(dir.path(), &["--epochs", "2"]);
    let more = dir.path().join("more.tsv");
    write_corpus(&more, 90, 8);
    let second = dir.path().join("second");
    let args = |train: &Path, extra: &[&str]| {
        let mut a = vec![
            "train".to_string(),
            "--train".into(),
            train.to_str().unwrap().into(),
            "--out".into(),
            second.to_str().unwrap().into(),
            "--init".into(),
            first.to_str().unwrap().into(),
            "--epochs".into(),
            "1".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let o = thresh().args(args(&more, &[])).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |d: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap()
    };
    assert_eq!(read(&first)["transformer"], read(&second)["transformer"]);
    assert_eq!(read(&first)["labels"], read(&second)["labels"]);
    assert_ne!(
        std::fs::read(first.join("model.safetensors")).unwrap(),
        std::fs::read(second.join("model.safetensors")).unwrap()
    );

    let odd = dir.path().join("odd.tsv");
    std::fs::write(&odd, "text\tlabel\nwe saw a goal\tsport\na new tune\tmusic\n").unwrap();
    let o = thresh().args(args(&odd, &[])).output().unwrap();
    assert_usage_error(&o, &["--init", "music"]);
    let o = thresh().args(args(&more, &["--model", "bag"])).output().unwrap();
    assert_usage_error(&o, &["--init", "--model transformer"]);
}

#[test]
fn embed_writes_vectors_that_neighbors_reads() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    let mut text = String::new();
    let mut x = 88172645463325252u64;
    for i in 0..600 {
        let words: &[&str] = if i % 2 == 0 {
            &["goal", "match", "team", "striker"]
        } else {
            &["pasta", "bread", "soup", "garlic"]
        };
        let line: Vec<&str> = (0..8).map(|_| words[below(&mut x, 4)]).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    std::fs::write(&corpus, text).unwrap();
    let vec = dir.path().join("v.vec");
    let o = run(&[
        "embed",
        "--input",
        corpus.to_str().unwrap(),
        "--out",
        vec.to_str().unwrap(),
        "--dim",
        "16",
        "--min-count",
        "1",
        "--model",
        "cbow",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&vec).unwrap().starts_with("8 16\n"));
    let o = run(&["neighbors", vec.to_str().unwrap(), "goal", "-k", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let near: Vec<String> =
        stdout(&o).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert_eq!(near.len(), 2);
    for w in &near {
        assert!(["match", "team", "striker"].contains(&w.as_str()), "{near:?}");
    }
    // A word the file lacks is built from its character n-grams, kept beside the .vec.
    let sidecar = dir.path().join("v.subwords.safetensors");
    assert!(sidecar.is_file());
    let o = run(&["neighbors", vec.to_str().unwrap(), "zebra", "-k", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
    std::fs::remove_file(&sidecar).unwrap();
    let o = run(&["neighbors", vec.to_str().unwrap(), "zebra"]);
    assert_usage_error(&o, &["zebra", "v.vec", "subwords"]);
}

/// A fastText-format file where each text carries one to three topic labels, each given away
/// by two of the topic's words among filler.
fn write_multilabel(path: &Path, rows: usize, seed: u64) {
    let topics = [
        ("sport", ["match", "goal", "team", "coach"]),
        ("food", ["pasta", "bread", "soup", "cheese"]),
        ("tech", ["laptop", "code", "chip", "screen"]),
        ("money", ["bank", "loan", "price", "cash"]),
    ];
    let filler = ["the", "a", "today", "really", "we", "saw", "some", "very", "new", "old"];
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: usize| below(&mut x, n);
    let mut text = String::new();
    for _ in 0..rows {
        let first = next(topics.len());
        let mut chosen = vec![first];
        for _ in 0..next(3) {
            let t = next(topics.len());
            if !chosen.contains(&t) {
                chosen.push(t);
            }
        }
        let mut words: Vec<&str> = (0..3).map(|_| filler[next(filler.len())]).collect();
        for &t in &chosen {
            for _ in 0..2 {
                words.insert(next(words.len() + 1), topics[t].1[next(4)]);
            }
        }
        let labels: Vec<String> =
            chosen.iter().map(|&t| format!("__label__{}", topics[t].0)).collect();
        text.push_str(&format!("{} {}\n", labels.join(" "), words.join(" ")));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn one_vs_all_learns_several_labels_per_text() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.txt");
    let test = dir.path().join("test.txt");
    write_multilabel(&train, 1500, 7);
    write_multilabel(&test, 200, 8);
    let (train_s, test_s) = (train.to_str().unwrap(), test.to_str().unwrap());
    let common = ["--model", "bag", "--dim", "16", "--epochs", "5", "--lr", "0.5"];
    let ova = |threads: &str, out: &Path| {
        let mut args = vec!["train", "--train", train_s, "--test", test_s];
        args.extend(["--out", out.to_str().unwrap(), "--loss", "ova", "--threads", threads]);
        args.extend(common);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let o = ova("2", &two);
    assert!(stdout(&o).contains("label sets"), "{}", stdout(&o));
    ova("1", &one);
    let files = ["model.safetensors", "history.json", "metrics.json"];
    assert_same_files(&one, &two, &files, "one and two threads");

    // Softmax cannot train on several labels per text, and says what can.
    let mut args = vec!["train", "--train", train_s, "--out"];
    let softmax_out = dir.path().join("softmax");
    args.push(softmax_out.to_str().unwrap());
    args.extend(common);
    assert_usage_error(&run(&args), &["train.txt:", "--loss ova"]);

    let o = run(&["eval", one.to_str().unwrap(), test_s, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sets = &report["multi_label"];
    assert_eq!(sets["threshold"], 0.5);
    assert!(sets["precision_at_1"].as_f64().unwrap() > 0.95, "{report}");
    assert!(sets["micro_f1"].as_f64().unwrap() > 0.9, "{report}");
    assert!(sets["labels_per_example"].as_f64().unwrap() > 1.2, "{report}");
    // A threshold of 1 predicts (almost) nothing, so recall falls.
    let o = run(&["eval", one.to_str().unwrap(), test_s, "--json", "--threshold", "1"]);
    let strict: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(strict["multi_label"]["micro_recall"].as_f64() < sets["micro_recall"].as_f64());
    let o = run(&["eval", one.to_str().unwrap(), test_s, "--threshold", "1.5"]);
    assert_usage_error(&o, &["--threshold"]);

    // Both topics of a two-topic text pass the default threshold of a one-vs-all model.
    let preds = predict_stdin(&one, &[], b"we saw the goal and the soup\nbank loan\n");
    let names = |p: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = p["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| pair[0].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&preds[0]), ["food", "sport"], "{preds:?}");
    assert_eq!(names(&preds[1]), ["money"], "{preds:?}");

    // Continuing a one-vs-all model with the softmax loss is refused.
    let single = dir.path().join("single.txt");
    std::fs::write(&single, "__label__sport goal team\n__label__food soup bread\n".repeat(5))
        .unwrap();
    let mut args = vec!["train", "--train", single.to_str().unwrap()];
    args.extend(["--init", one.to_str().unwrap()]);
    args.extend(["--out", softmax_out.to_str().unwrap(), "--model", "bag"]);
    let o = run(&args);
    assert_usage_error(&o, &["--init", "--loss ova"]);
}

/// The Hugging Face name of a thresh parameter of a BERT-layout encoder, for writing a
/// checkpoint from a model made here (`qkv` tensors are split by the caller).
fn hugging_face_name(name: &str) -> String {
    let name = name
        .replace("embeddings.tokens", "embeddings.word_embeddings")
        .replace("embeddings.positions", "embeddings.position_embeddings")
        .replace("embeddings.norm", "embeddings.LayerNorm");
    let Some(rest) = name.strip_prefix("layers.") else { return name };
    let (layer, part) = rest.split_once('.').unwrap();
    let part = part
        .replace("attention.out", "attention.output.dense")
        .replace("norm1", "attention.output.LayerNorm")
        .replace("ffn.up", "intermediate.dense")
        .replace("ffn.down", "output.dense")
        .replace("norm2", "output.LayerNorm");
    format!("encoder.layer.{layer}.{part}")
}

/// A one-block BERT checkpoint of width 8 with random weights and a vocabulary holding the
/// words of [`write_corpus`], in Hugging Face's file layout.
fn write_tiny_bert(dir: &Path) {
    use thresh_core::models::{TransformerClassifier, TransformerConfig};
    use thresh_core::Module;
    std::fs::create_dir_all(dir).unwrap();
    let words = "the a today really we saw some very new old match goal team pasta bread soup \
                 laptop code chip";
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(words.split_whitespace());
    std::fs::write(dir.join("vocab.txt"), vocab.join("\n") + "\n").unwrap();
    let config = serde_json::json!({
        "model_type": "bert", "vocab_size": vocab.len(), "hidden_size": 8,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
        "hidden_act": "gelu", "max_position_embeddings": 32, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let arch = TransformerConfig {
        vocab_size: vocab.len(),
        max_len: 32,
        d_model: 8,
        layers: 1,
        heads: 2,
        d_ff: 16,
        norm_first: false,
        embedding_norm: true,
        embedding_init_std: 0.5,
        ..TransformerConfig::reference()
    };
    let model = TransformerClassifier::new(arch, 11).unwrap();
    let mut tensors: Vec<(String, thresh_core::Tensor)> = Vec::new();
    model.visit(&mut |p| {
        if p.name.starts_with("head.") {
            return;
        }
        if let Some((stem, kind)) = p.name.split_once(".attention.qkv.") {
            let layer = stem.trim_start_matches("layers.");
            let rows = p.value.shape()[0] / 3;
            let width = p.value.len() / p.value.shape()[0];
            for (i, part) in ["query", "key", "value"].iter().enumerate() {
                let data = p.value.data()[i * rows * width..(i + 1) * rows * width].to_vec();
                let mut shape = p.value.shape().to_vec();
                shape[0] = rows;
                let name = format!("encoder.layer.{layer}.attention.self.{part}.{kind}");
                tensors.push((name, thresh_core::Tensor::from_vec(data, &shape).unwrap()));
            }
        } else {
            tensors.push((hugging_face_name(&p.name), p.value.clone()));
        }
    });
    let types = thresh_core::Tensor::zeros(&[2, 8]);
    tensors.push(("embeddings.token_type_embeddings.weight".into(), types));
    let refs: Vec<(String, &thresh_core::Tensor)> =
        tensors.iter().map(|(n, t)| (n.clone(), t)).collect();
    thresh_core::io::save_tensors(&dir.join("model.safetensors"), &refs, None).unwrap();
}

#[test]
fn bert_fine_tunes_a_checkpoint_and_a_frozen_encoder_stays_as_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("tiny-bert");
    write_tiny_bert(&ckpt);
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 300, 9);
    let (train_s, ckpt_s) = (train.to_str().unwrap(), ckpt.to_str().unwrap());
    let bert = |out: &Path, extra: &[&str]| {
        let mut args = vec!["train", "--train", train_s, "--test", train_s, "--model", "bert"];
        args.extend(["--pretrained", ckpt_s, "--out", out.to_str().unwrap(), "--threads", "2"]);
        args.extend(extra);
        run(&args)
    };
    let tuned = dir.path().join("tuned");
    let o =
        bert(&tuned, &["--epochs", "8", "--lr", "1e-2", "--head-lr", "2e-2", "--patience", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Epoch 8/8"), "{}", stdout(&o));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tuned.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"], "bert");
    assert_eq!(config["special_tokens"], true);
    assert_eq!(config["transformer"]["norm_first"], false);
    assert!(tuned.join("tokenizer.json").exists());
    assert!(tuned.join("pretrained_config.json").exists());
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tuned.join("metrics.json")).unwrap()).unwrap();
    println!("tiny checkpoint fine-tuned: accuracy {}", metrics["accuracy"]);
    assert!(metrics["accuracy"].as_f64().unwrap() > 0.6, "{metrics}");
    let preds = predict_stdin(&tuned, &[], b"we saw the goal\nsome soup today\n");
    assert_eq!(preds.len(), 2);

    // With the encoder frozen, everything but the head is still the checkpoint's.
    let frozen = dir.path().join("frozen");
    let o = bert(&frozen, &["--epochs", "1", "--freeze-encoder"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let saved = thresh_core::io::load_tensors(&frozen.join("model.safetensors")).unwrap();
    let source = thresh_core::io::load_tensors(&ckpt.join("model.safetensors")).unwrap();
    for (name, t) in &saved {
        if name.starts_with("head.") || name.contains("qkv") || name.contains("positions") {
            continue;
        }
        assert_eq!(t.data(), source[&hugging_face_name(name)].data(), "{name} changed");
    }

    let o = run(&["embed-text", ckpt_s, train_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(first["embedding"].as_array().unwrap().len(), 8);

    // Usage errors name the flag or the configuration field.
    let o = run(&["train", "--train", train_s, "--out", "x", "--model", "bert"]);
    assert_usage_error(&o, &["--pretrained"]);
    let config = std::fs::read_to_string(ckpt.join("config.json")).unwrap();
    std::fs::write(ckpt.join("config.json"), config.replace("\"gelu\"", "\"relu\"")).unwrap();
    let o = bert(&dir.path().join("bad"), &["--epochs", "1"]);
    assert_usage_error(&o, &["config.json", "hidden_act", "relu"]);
}

/// Writes `count` 8 × 8 grey images whose class (0-3) is the bright quadrant, with noise,
/// as IDX files `{prefix}-images-idx3-ubyte` and `{prefix}-labels-idx1-ubyte` in `dir`.
fn write_quadrant_idx(dir: &Path, prefix: &str, count: usize, seed: u64) {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = |n: usize| below(&mut x, n);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for i in 0..count {
        let class = i % 4;
        labels.push(class as u8);
        for y in 0..8 {
            for xx in 0..8 {
                let quadrant = (y / 4) * 2 + xx / 4;
                let base = if quadrant == class { 180 } else { 40 };
                images.push((base + next(60)) as u8);
            }
        }
    }
    let header = |dims: &[u32]| {
        let mut h = vec![0u8, 0, 8, dims.len() as u8];
        for d in dims {
            h.extend_from_slice(&d.to_be_bytes());
        }
        h
    };
    let mut bytes = header(&[count as u32, 8, 8]);
    bytes.extend_from_slice(&images);
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), bytes).unwrap();
    let mut bytes = header(&[count as u32]);
    bytes.extend_from_slice(&labels);
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), bytes).unwrap();
}

#[test]
fn cnn_trains_on_idx_files_and_predicts_image_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("quadrants");
    std::fs::create_dir(&data).unwrap();
    write_quadrant_idx(&data, "train", 400, 1);
    write_quadrant_idx(&data, "t10k", 80, 2);
    let model = dir.path().join("cnn");
    let train = |out: &Path, threads: &str| {
        run(&[
            "train",
            "--model",
            "cnn",
            "--train",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--epochs",
            "3",
            "--lr",
            "3e-3",
            "--threads",
            threads,
            "--crop-padding",
            "1",
        ])
    };
    let o = train(&model, "2");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Epoch 3/3") && out.contains("val_accuracy"), "{out}");
    assert!(out.contains("images 1×8×8") && out.contains("test 80"), "{out}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["accuracy"].as_f64().unwrap() > 0.9, "{metrics}");
    // Same seed and threads: the same weights.
    let again = dir.path().join("again");
    assert!(train(&again, "2").status.success());
    assert_same_files(&model, &again, &["model.safetensors", "history.json"], "identical runs");

    let o = run(&["eval", model.to_str().unwrap(), data.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["accuracy"], metrics["accuracy"]);
    assert_eq!(report["examples"], 80);

    // Image files: a bright top-right quadrant is class 1; a file that is not an image is an
    // error naming it.
    let png = dir.path().join("one.png");
    let img = image::GrayImage::from_fn(8, 8, |x, y| {
        image::Luma([if y < 4 && x >= 4 { 210 } else { 50 }])
    });
    img.save(&png).unwrap();
    let list = format!("{}\n", png.display());
    let preds = predict_stdin(&model, &["--top-k", "2"], list.as_bytes());
    assert_eq!(preds[0]["label"], "1", "{preds:?}");
    assert_eq!(preds[0]["top"].as_array().unwrap().len(), 2);
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let mut child = thresh()
        .args(["predict", model.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{}\n", bad.display()).as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_usage_error(&o, &["bad.png"]);
}

#[test]
fn cnn_trains_on_a_folder_tree_and_skips_bad_images_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("pets");
    for (class, bright_left) in [("cats", true), ("dogs", false)] {
        std::fs::create_dir_all(tree.join(class)).unwrap();
        for i in 0..40u32 {
            let img = image::RgbImage::from_fn(12, 10, |x, _| {
                let on = (x < 6) == bright_left;
                let v = if on { 200 } else { 30 } + (i * 7 % 40) as u8;
                image::Rgb([v, v / 2, 255 - v])
            });
            img.save(tree.join(class).join(format!("{i}.png"))).unwrap();
        }
    }
    std::fs::write(tree.join("dogs").join("broken.jpg"), b"no jpeg here").unwrap();
    let out = dir.path().join("m");
    let args = |extra: &[&str]| {
        let mut a = vec!["train", "--model", "cnn", "--train", tree.to_str().unwrap()];
        a.extend(["--out", out.to_str().unwrap(), "--image-size", "8", "--epochs", "3"]);
        a.extend(["--lr", "3e-3", "--threads", "2", "--flip"]);
        a.extend(extra);
        run(&a)
    };
    assert_usage_error(&args(&[]), &["broken.jpg"]);
    let o = args(&["--skip-bad-rows"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("images 3×8×8"), "{}", stdout(&o));
    assert!(stderr(&o).contains("left out") || stdout(&o).contains("skipped"), "{}", stderr(&o));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"], "cnn");
    assert_eq!(config["labels"], serde_json::json!(["cats", "dogs"]));
}

#[test]
fn tune_records_trials_keeps_the_winner_and_skips_finished_trials_when_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 300, 3);
    let space = dir.path().join("space.toml");
    std::fs::write(&space, "[lr]\nlog_uniform = [1e-3, 3e-3]\n[d_model]\nchoice = [16, 32]\n")
        .unwrap();
    let out = dir.path().join("search");
    let tune = |extra: &[&str]| {
        let mut args = vec!["tune", "--train", train.to_str().unwrap(), "--out"];
        args.extend([out.to_str().unwrap(), "--trials", "4", "--epochs", "3", "--threads", "2"]);
        args.extend(["--space", space.to_str().unwrap(), "--test", train.to_str().unwrap()]);
        args.extend(extra);
        run(&args)
    };
    let o = tune(&["--budget", "120"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("rank  trial") && table.contains("best: trial"), "{table}");
    let lines = std::fs::read_to_string(out.join("trials.jsonl")).unwrap();
    let records: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 4, "{lines}");
    // Rungs of 1 and 3 epochs: the better half of four (rounded up from a third) goes on.
    let complete = records.iter().filter(|r| r["status"] == "complete").count();
    assert_eq!(complete, 2, "{lines}");
    for r in &records {
        let lr = r["params"]["lr"].as_f64().unwrap();
        assert!((1e-3..=3e-3).contains(&lr), "{r}");
        assert!([16, 32].contains(&r["params"]["d_model"].as_u64().unwrap()), "{r}");
    }
    assert!(out.join("best/model.safetensors").exists());
    assert!(out.join("best/metrics.json").exists());
    let preds = predict_stdin(&out.join("best"), &[], b"we saw the goal\n");
    assert_eq!(preds.len(), 1);

    // Run again: every trial is finished, so nothing trains and the records stay.
    let o = tune(&["--budget", "120"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("trials.jsonl")).unwrap(), lines);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[layerz]\nchoice = [1]\n").unwrap();
    let o = run(&[
        "tune",
        "--train",
        train.to_str().unwrap(),
        "--out",
        dir.path().join("other").to_str().unwrap(),
        "--space",
        bad.to_str().unwrap(),
    ]);
    assert_usage_error(&o, &["--space", "layerz"]);
}

#[test]
fn a_killed_image_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("quadrants");
    std::fs::create_dir(&data).unwrap();
    write_quadrant_idx(&data, "train", 300, 5);
    write_quadrant_idx(&data, "t10k", 40, 6);
    let args = |out: &Path| -> Vec<String> {
        let a = ["train", "--model", "cnn", "--train", data.to_str().unwrap(), "--out"];
        let mut a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        a.push(out.to_str().unwrap().to_string());
        let extra = ["--epochs", "30", "--patience", "0", "--crop-padding", "1", "--threads", "2"];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    assert_kill_and_resume_match(dir.path(), args);
}

#[test]
fn bench_runs_a_trained_model_directory_on_batches_of_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_small(dir.path(), &["--epochs", "1"]);
    let data = dir.path().join("quadrants");
    std::fs::create_dir(&data).unwrap();
    write_quadrant_idx(&data, "train", 80, 1);
    write_quadrant_idx(&data, "t10k", 8, 2);
    let cnn = dir.path().join("cnn");
    let args = ["train", "--model", "cnn", "--train", data.to_str().unwrap(), "--epochs", "1"];
    let o = run(&[&args[..], &["--out", cnn.to_str().unwrap(), "-q"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    for (m, mode) in [(&model, "infer"), (&model, "train"), (&cnn, "infer")] {
        let o = run(&["bench", "--model", m.to_str().unwrap(), "--mode", mode, "--steps", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let line = stdout(&o);
        assert!(line.starts_with(&format!("RESULT mode={mode} ")), "{line}");
    }
    let o = run(&["bench", "--model", dir.path().join("none").to_str().unwrap()]);
    assert_usage_error(&o, &["none"]);
}

/// One F32 tensor of a safetensors file, read by hand from its header's offsets.
fn f32_tensor(path: &Path, name: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header[name]["dtype"], "F32", "{name} in {}", path.display());
    let off = &header[name]["data_offsets"];
    let (a, b) = (off[0].as_u64().unwrap() as usize, off[1].as_u64().unwrap() as usize);
    bytes[8 + n + a..8 + n + b]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn eval_accuracy(model: &Path, file: &Path) -> f64 {
    let o = run(&["eval", model.to_str().unwrap(), file.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["accuracy"].as_f64().unwrap()
}

#[test]
fn compress_quantises_prunes_and_fine_tunes_into_ordinary_model_directories() {
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join("test.tsv");
    write_corpus(&test, 90, 7);
    let train = dir.path().join("train.tsv");
    write_corpus(&train, 300, 1);
    let model = dir.path().join("model");
    let o = run(&[
        "train",
        "--train",
        train.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--d-model",
        "16",
        "--layers",
        "1",
        "--heads",
        "4",
        "--d-ff",
        "64",
        "--threads",
        "2",
        "--epochs",
        "8",
        "--lr",
        "1e-2",
        "--dropout",
        "0.1",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (m, t, e) = (model.to_str().unwrap(), train.to_str().unwrap(), test.to_str().unwrap());
    let before = eval_accuracy(&model, &test);
    assert!(before > 0.9, "the small model should learn the keywords: {before}");

    // int8: codes in the weight file, a quarter of the float size, accuracy kept.
    let q = dir.path().join("int8");
    let o = run(&["compress", m, "--out", q.to_str().unwrap(), "--quantize", "int8", "--eval", e]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    for needle in ["weights (MB)", "accuracy", "latency, batch 1 (ms)", "throughput (seq/s)"] {
        assert!(table.contains(needle), "{needle} missing from:\n{table}");
    }
    let report = json_file(&q.join("compression.json"));
    let (wb, wa) = (
        report["before"]["weights_bytes"].as_f64().unwrap(),
        report["after"]["weights_bytes"].as_f64().unwrap(),
    );
    // At width 16 the per-row scales, the float biases and norms and the file header weigh
    // more than at real sizes (26 % of the float file for the TREC-6 model).
    assert!(wa < 0.45 * wb, "int8 weights {wa} bytes vs {wb}");
    let after = eval_accuracy(&q, &test);
    assert_eq!(Some(after), report["after"]["accuracy"].as_f64());
    assert!(after >= before - 0.02, "int8 accuracy {after} vs {before}");
    let config = json_file(&q.join("config.json"));
    assert_eq!(config["compression"]["quantize"], "int8");
    // The vocabulary ships gzip-compressed, in place of the plain file.
    assert!(q.join("word_tokenizer.json.gz").is_file() && !q.join("word_tokenizer.json").exists());
    let header = std::fs::read(q.join("model.safetensors")).unwrap();
    let len = u64::from_le_bytes(header[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&header[8..8 + len]).unwrap();
    assert_eq!(header["layers.0.ffn.up.weight"]["dtype"], "I8");
    assert_eq!(header["layers.0.ffn.up.weight.scales"]["dtype"], "F32");
    assert_eq!(header["embeddings.tokens.weight"]["dtype"], "I8");
    // Predict and bench work on it unchanged.
    let preds = predict_stdin(&q, &[], b"we saw a goal\nsome pasta\n");
    assert_eq!(preds.len(), 2);
    let o = run(&["bench", "--model", q.to_str().unwrap(), "--mode", "infer", "--steps", "2"]);
    assert!(o.status.success() && stdout(&o).starts_with("RESULT mode=infer"), "{}", stderr(&o));
    // A quantised model is not quantised again.
    let o = run(&["compress", q.to_str().unwrap(), "--out", "x", "--quantize", "int8"]);
    assert_usage_error(&o, &["already quantised"]);

    // Structured pruning of half the neurons and heads, one epoch of fine-tuning.
    let s = dir.path().join("pruned");
    let o = run(&[
        "compress",
        m,
        "--out",
        s.to_str().unwrap(),
        "--prune",
        "0.5",
        "--structured",
        "--prune-heads",
        "0.5",
        "--finetune-epochs",
        "1",
        "--train",
        t,
        "--eval",
        e,
        "--threads",
        "2",
        "--no-speed",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Epoch 1/1"), "{}", stdout(&o));
    let arch = &json_file(&s.join("config.json"))["transformer"];
    assert_eq!((arch["d_ff"].as_u64(), arch["heads"].as_u64()), (Some(32), Some(2)));
    assert_eq!(arch["head_dim"].as_u64(), Some(4));
    let pruned = eval_accuracy(&s, &test);
    assert!(pruned > 0.85, "pruned and fine-tuned accuracy {pruned}");
    let history = json_file(&s.join("history.json"));
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    // Speed not measured: null in the report and no rows in the table.
    let report = json_file(&s.join("compression.json"));
    assert!(report["after"]["latency_ms"].is_null() && report["after"]["seq_per_s"].is_null());
    assert!(!stdout(&o).contains("throughput"), "{}", stdout(&o));

    // Magnitude pruning zeroes half of the encoder weights; shapes stay; fine-tuning moves
    // the others and keeps the zeros.
    let g = dir.path().join("sparse");
    let o = run(&["compress", m, "--out", g.to_str().unwrap(), "--prune", "0.5", "--no-speed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("set to zero (50 %)"), "{}", stdout(&o));
    let gt = dir.path().join("sparse-tuned");
    let o = run(&[
        "compress",
        m,
        "--out",
        gt.to_str().unwrap(),
        "--prune",
        "0.5",
        "--finetune-epochs",
        "1",
        "--train",
        t,
        "--no-speed",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let name = "layers.0.ffn.up.weight";
    let (cut, tuned) = (
        f32_tensor(&g.join("model.safetensors"), name),
        f32_tensor(&gt.join("model.safetensors"), name),
    );
    let zeros = cut.iter().filter(|&&v| v == 0.0).count();
    assert!(zeros > cut.len() / 4, "{zeros} of {}", cut.len());
    assert!(cut.iter().zip(&tuned).all(|(a, b)| (*a == 0.0) == (*b == 0.0)), "zeros kept");
    assert!(cut.iter().zip(&tuned).any(|(a, b)| a != b), "the kept weights moved");

    // A bag model's table product-quantised to a tenth of its size.
    let b = dir.path().join("bag");
    let args = ["train", "--model", "bag", "--dim", "16", "--epochs", "5", "--lr", "0.5", "-q"];
    let o = run(&[&args[..], &["--train", t, "--out", b.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let p = dir.path().join("bag-pq");
    let o = run(&[
        "compress",
        b.to_str().unwrap(),
        "--out",
        p.to_str().unwrap(),
        "--quantize",
        "pq",
        "--pq-centroids",
        "16",
        "--pq-dsub",
        "8",
        "--eval",
        e,
        "--no-speed",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let (wb, wa) = (
        report["before"]["weights_bytes"].as_f64().unwrap(),
        report["after"]["weights_bytes"].as_f64().unwrap(),
    );
    assert!(wa < 0.25 * wb, "pq weights {wa} bytes vs {wb}");
    let (ab, aa) = (
        report["before"]["accuracy"].as_f64().unwrap(),
        report["after"]["accuracy"].as_f64().unwrap(),
    );
    assert!(aa >= ab - 0.05, "pq accuracy {aa} vs {ab}");
    assert_eq!(eval_accuracy(&p, &test), aa);

    // Usage errors name the flag and leave nothing behind.
    let y = dir.path().join("y");
    let y = y.to_str().unwrap();
    let o = run(&["compress", m, "--out", y]);
    assert_usage_error(&o, &["--quantize"]);
    let o = run(&[
        "compress",
        m,
        "--out",
        y,
        "--prune",
        "0.5",
        "--structured",
        "--finetune-epochs",
        "1",
    ]);
    assert_usage_error(&o, &["--train"]);
    let o = run(&["compress", m, "--out", y, "--quantize", "pq"]);
    assert_usage_error(&o, &["--quantize", "bag"]);
    let o = run(&["compress", m, "--out", y, "--prune", "1.5"]);
    assert_usage_error(&o, &["--prune"]);
    assert!(!dir.path().join("y").exists());
}
