//! A classifier written layer by layer in a scenario, in Keras' vocabulary: the layer types,
//! the shape each one gives, the checks that refuse a layer that cannot follow the one before it,
//! and the model summary (Keras' `model.summary()`).
//!
//! ```toml
//! layers = [
//!   { type = "conv2d", filters = 32, kernel = 3, activation = "relu" },
//!   { type = "maxpool", size = 2 },
//!   { type = "flatten" },
//!   { type = "dense", units = 128, activation = "relu" },
//!   { type = "dense", units = 10 },
//! ]
//! ```

use serde::{Deserialize, Serialize};

/// Most filters or units one layer may have, so a typo never allocates gigabytes.
pub const MAX_WIDTH: usize = 65_536;
/// Most layers a description may have.
pub const MAX_LAYERS: usize = 256;
/// Largest kernel or pool side.
pub const MAX_WINDOW: usize = 64;
/// Most parameters a described model may have (a 4 GB f32 model with its Adam moments is
/// already more than a dashboard job should hold).
pub const MAX_PARAMETERS: usize = 250_000_000;
/// Negative-side slope of `activation = "leaky_relu"` (PyTorch's default; Keras' layer uses 0.3,
/// which the standalone `leaky_relu` layer takes as `slope = 0.3`).
pub const LEAKY_SLOPE: f64 = 0.01;

/// A non-linearity, applied by a layer (`activation = …`) or standing alone (`type = "relu"`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// No activation (the layer's output is linear), Keras' default.
    #[default]
    Linear,
    /// max(0, x).
    Relu,
    /// x for x ≥ 0, 0.01·x below.
    LeakyRelu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^−x).
    Sigmoid,
    /// x·Φ(x), with the tanh approximation candle computes.
    Gelu,
}

impl Activation {
    /// The name a scenario spells.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
        }
    }
}

/// How a convolution treats the border, as Keras spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// No padding: the output shrinks by kernel − 1.
    #[default]
    Valid,
    /// Zero padding that keeps the side at ⌈side / stride⌉ (odd kernels only).
    Same,
}

fn one() -> usize {
    1
}

fn two() -> usize {
    2
}

fn leaky_slope() -> f64 {
    LEAKY_SLOPE
}

/// One layer of a described classifier; `type` picks the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// `Conv2D(filters, kernel, strides, padding, activation)` with a bias.
    Conv2d {
        /// Output channels.
        filters: usize,
        /// Side of the square kernel.
        kernel: usize,
        /// Step between windows.
        #[serde(default = "one")]
        stride: usize,
        /// `valid` or `same`.
        #[serde(default)]
        padding: Padding,
        /// Applied to the output.
        #[serde(default)]
        activation: Activation,
    },
    /// `MaxPooling2D(pool_size, strides)`; the stride defaults to the size.
    Maxpool {
        /// Side of the window.
        #[serde(default = "two")]
        size: usize,
        /// Step between windows (default: the size).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
    },
    /// `AveragePooling2D(pool_size, strides)`.
    Avgpool {
        /// Side of the window.
        #[serde(default = "two")]
        size: usize,
        /// Step between windows (default: the size).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
    },
    /// `Flatten()`: an image `(c, h, w)` becomes `c·h·w` features.
    Flatten,
    /// `Dense(units, activation)` with a bias.
    Dense {
        /// Output width.
        units: usize,
        /// Applied to the output.
        #[serde(default)]
        activation: Activation,
    },
    /// `Dropout(rate)`: zeroes each value with probability `rate` while training, scaling the
    /// rest by 1 / (1 − rate); does nothing at evaluation.
    Dropout {
        /// Probability of dropping a value, in [0, 1).
        rate: f64,
    },
    /// `BatchNormalization()` over channels (images) or features: batch statistics while
    /// training, running averages (momentum 0.1, ε 1e-5, PyTorch's) at evaluation.
    Batchnorm,
    /// A standalone ReLU.
    Relu,
    /// A standalone leaky ReLU with its own negative slope.
    LeakyRelu {
        /// Slope below zero, in [0, 1).
        #[serde(default = "leaky_slope")]
        slope: f64,
    },
    /// A standalone tanh.
    Tanh,
    /// A standalone sigmoid.
    Sigmoid,
    /// A standalone GELU.
    Gelu,
}

impl LayerSpec {
    /// The layer's type as a scenario spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Maxpool { .. } => "maxpool",
            LayerSpec::Avgpool { .. } => "avgpool",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Batchnorm => "batchnorm",
            LayerSpec::Relu => "relu",
            LayerSpec::LeakyRelu { .. } => "leaky_relu",
            LayerSpec::Tanh => "tanh",
            LayerSpec::Sigmoid => "sigmoid",
            LayerSpec::Gelu => "gelu",
        }
    }

    /// The layer as the model summary shows it: `Conv2D(32, 3×3, relu)`.
    pub fn describe(&self) -> String {
        let act = |a: &Activation| match a {
            Activation::Linear => String::new(),
            a => format!(", {}", a.as_str()),
        };
        match self {
            LayerSpec::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                activation,
            } => {
                let mut s = format!("Conv2D({filters}, {kernel}×{kernel}");
                if *stride != 1 {
                    s.push_str(&format!(", stride {stride}"));
                }
                if *padding == Padding::Same {
                    s.push_str(", same");
                }
                format!("{s}{})", act(activation))
            }
            LayerSpec::Maxpool { size, stride } => pool_text("MaxPool", *size, *stride),
            LayerSpec::Avgpool { size, stride } => pool_text("AvgPool", *size, *stride),
            LayerSpec::Flatten => "Flatten".into(),
            LayerSpec::Dense { units, activation } => format!("Dense({units}{})", act(activation)),
            LayerSpec::Dropout { rate } => format!("Dropout({rate})"),
            LayerSpec::Batchnorm => "BatchNorm".into(),
            LayerSpec::Relu => "ReLU".into(),
            LayerSpec::LeakyRelu { slope } => format!("LeakyReLU({slope})"),
            LayerSpec::Tanh => "Tanh".into(),
            LayerSpec::Sigmoid => "Sigmoid".into(),
            LayerSpec::Gelu => "GELU".into(),
        }
    }
}

fn pool_text(name: &str, size: usize, stride: Option<usize>) -> String {
    match stride.filter(|&s| s != size) {
        Some(s) => format!("{name}({size}×{size}, stride {s})"),
        None => format!("{name}({size}×{size})"),
    }
}

/// The shape of one example between layers (the batch dimension left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An image or feature map: channels, height, width.
    Image {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// A flat vector of features.
    Flat(usize),
}

impl Shape {
    /// Values per example.
    pub fn len(self) -> usize {
        match self {
            Shape::Image { c, h, w } => c * h * w,
            Shape::Flat(n) => n,
        }
    }

    /// True for a shape with no values.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Image { c, h, w } => write!(f, "({c}, {h}, {w})"),
            Shape::Flat(n) => write!(f, "({n})"),
        }
    }
}

/// A layer that cannot follow the one before it, or a value it cannot take; names the layer by
/// its index in `layers` (from 0) and the shapes involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("layers[{index}] ({layer}): {reason}")]
pub struct LayerError {
    /// Position in `layers`, from 0.
    pub index: usize,
    /// The layer's type.
    pub layer: &'static str,
    /// What is wrong, with the shapes.
    pub reason: String,
}

/// One row of the model summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The name its weights carry in checkpoints (`conv1`, `fc2`, `bn1`), or its type for a
    /// layer without weights.
    pub name: String,
    /// The layer as a scenario describes it, `Conv2D(32, 3×3, relu)`.
    pub layer: String,
    /// The shape it gives, batch left out.
    pub output: Shape,
    /// Trainable parameters (batch norm's running statistics are not counted).
    pub params: usize,
}

/// The whole model summary: the input, one row per layer, the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Shape of one input example.
    pub input: Shape,
    /// The layers in order.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// Trainable parameters of the whole model.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// The summary as text lines, in columns as wide as their widest cell, like Keras'
    /// `model.summary()`.
    pub fn lines(&self) -> Vec<String> {
        let mut rows = vec![
            [
                "name".to_string(),
                "layer".into(),
                "output".into(),
                "params".into(),
            ],
            [
                String::new(),
                "Input".into(),
                self.input.to_string(),
                String::new(),
            ],
        ];
        for row in &self.rows {
            rows.push([
                row.name.clone(),
                row.layer.clone(),
                row.output.to_string(),
                crate::format::thousands(row.params as u64),
            ]);
        }
        let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| format!("{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}", r[0], r[1], r[2], r[3]))
            .collect();
        lines.push(format!(
            "total: {} trainable parameters",
            crate::format::thousands(self.total_params() as u64)
        ));
        lines
    }
}

/// The checkpoint prefix of each layer with weights: `conv{n}`, `fc{n}`, `bn{n}`, counted per
/// type from 1 in order (the built-in CNN's `conv1`, `fc1`, `fc2`); `None` for a layer without.
pub fn weight_names(layers: &[LayerSpec]) -> Vec<Option<String>> {
    let (mut conv, mut fc, mut bn) = (0, 0, 0);
    layers
        .iter()
        .map(|l| match l {
            LayerSpec::Conv2d { .. } => {
                conv += 1;
                Some(format!("conv{conv}"))
            }
            LayerSpec::Dense { .. } => {
                fc += 1;
                Some(format!("fc{fc}"))
            }
            LayerSpec::Batchnorm => {
                bn += 1;
                Some(format!("bn{bn}"))
            }
            _ => None,
        })
        .collect()
}

/// Output side of a window of `window` stepping by `stride` over `side` (after padding).
fn windows(side: usize, window: usize, stride: usize) -> usize {
    (side - window) / stride + 1
}

/// Infers every layer's output shape from the input's, refusing the first layer that cannot
/// follow the one before it and a last layer that does not give one logit per class.
pub fn infer(layers: &[LayerSpec], input: Shape, classes: usize) -> Result<Summary, LayerError> {
    if layers.is_empty() {
        return Err(LayerError {
            index: 0,
            layer: "layers",
            reason: "the list is empty: describe at least one dense layer".into(),
        });
    }
    if layers.len() > MAX_LAYERS {
        return Err(LayerError {
            index: MAX_LAYERS,
            layer: layers[MAX_LAYERS].type_name(),
            reason: format!("more than {MAX_LAYERS} layers"),
        });
    }
    let names = weight_names(layers);
    let mut shape = input;
    let mut rows = Vec::with_capacity(layers.len());
    let mut total = 0usize;
    for (index, (layer, name)) in layers.iter().zip(names).enumerate() {
        let fail = |reason: String| LayerError {
            index,
            layer: layer.type_name(),
            reason,
        };
        let (output, params) = layer_output(layer, shape).map_err(fail)?;
        total = total.saturating_add(params);
        if total > MAX_PARAMETERS {
            return Err(fail(format!(
                "the model reaches {} parameters, more than {}",
                crate::format::thousands(total as u64),
                crate::format::thousands(MAX_PARAMETERS as u64)
            )));
        }
        rows.push(SummaryRow {
            name: name.unwrap_or_else(|| layer.type_name().to_string()),
            layer: layer.describe(),
            output,
            params,
        });
        shape = output;
    }
    let last = layers.len() - 1;
    if shape != Shape::Flat(classes) {
        return Err(LayerError {
            index: last,
            layer: layers[last].type_name(),
            reason: format!(
                "the last layer gives {shape}, but the dataset has {classes} classes: end with \
                 {{ type = \"dense\", units = {classes} }}"
            ),
        });
    }
    if total == 0 {
        return Err(LayerError {
            index: last,
            layer: layers[last].type_name(),
            reason: "no layer has weights to train".into(),
        });
    }
    Ok(Summary { input, rows })
}

/// Checks a width (filters, units) against its range.
fn check_width(key: &str, v: usize) -> Result<(), String> {
    if (1..=MAX_WIDTH).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} = {v}: must be in 1..={MAX_WIDTH}"))
    }
}

/// Checks a window or stride against its range.
fn check_window(key: &str, v: usize) -> Result<(), String> {
    if (1..=MAX_WINDOW).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} = {v}: must be in 1..={MAX_WINDOW}"))
    }
}

/// The image a spatial layer needs, or why the input is not one.
fn image_input(input: Shape, what: &str) -> Result<(usize, usize, usize), String> {
    match input {
        Shape::Image { c, h, w } => Ok((c, h, w)),
        Shape::Flat(n) => Err(format!(
            "{what} needs an image (channels, height, width), but its input is flat {}",
            Shape::Flat(n)
        )),
    }
}

/// A pooling layer's output shape.
fn pool_output(input: Shape, size: usize, stride: Option<usize>) -> Result<Shape, String> {
    check_window("size", size)?;
    let stride = stride.unwrap_or(size);
    check_window("stride", stride)?;
    let (c, h, w) = image_input(input, "pooling")?;
    if size > h || size > w {
        return Err(format!(
            "a {size}×{size} window does not fit its {h}×{w} input {input}: it would leave 0×0"
        ));
    }
    Ok(Shape::Image {
        c,
        h: windows(h, size, stride),
        w: windows(w, size, stride),
    })
}

/// One layer's output shape and trainable parameter count, given its input.
fn layer_output(layer: &LayerSpec, input: Shape) -> Result<(Shape, usize), String> {
    match *layer {
        LayerSpec::Conv2d {
            filters,
            kernel,
            stride,
            padding,
            ..
        } => {
            check_width("filters", filters)?;
            check_window("kernel", kernel)?;
            check_window("stride", stride)?;
            let (c, h, w) = image_input(input, "conv2d")?;
            let pad = match padding {
                Padding::Valid => 0,
                Padding::Same if kernel % 2 == 1 => kernel / 2,
                Padding::Same => {
                    return Err(format!(
                        "padding = \"same\" needs an odd kernel, not {kernel}"
                    ))
                }
            };
            if kernel > h + 2 * pad || kernel > w + 2 * pad {
                return Err(format!(
                    "the {kernel}×{kernel} kernel is larger than its {h}×{w} input {input}"
                ));
            }
            let out = Shape::Image {
                c: filters,
                h: windows(h + 2 * pad, kernel, stride),
                w: windows(w + 2 * pad, kernel, stride),
            };
            Ok((out, filters * c * kernel * kernel + filters))
        }
        LayerSpec::Maxpool { size, stride } | LayerSpec::Avgpool { size, stride } => {
            Ok((pool_output(input, size, stride)?, 0))
        }
        LayerSpec::Flatten => Ok((Shape::Flat(input.len()), 0)),
        LayerSpec::Dense { units, .. } => {
            check_width("units", units)?;
            match input {
                Shape::Flat(n) => Ok((Shape::Flat(units), n * units + units)),
                image => Err(format!(
                    "dense needs flat input, but its input is the image {image}: add \
                     {{ type = \"flatten\" }} before it"
                )),
            }
        }
        LayerSpec::Dropout { rate } => {
            if (0.0..1.0).contains(&rate) {
                Ok((input, 0))
            } else {
                Err(format!("rate = {rate}: must be in [0, 1)"))
            }
        }
        LayerSpec::Batchnorm => {
            let channels = match input {
                Shape::Image { c, .. } => c,
                Shape::Flat(n) => n,
            };
            Ok((input, 2 * channels))
        }
        LayerSpec::LeakyRelu { slope } => {
            if (0.0..1.0).contains(&slope) {
                Ok((input, 0))
            } else {
                Err(format!("slope = {slope}: must be in [0, 1)"))
            }
        }
        LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid | LayerSpec::Gelu => Ok((input, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MNIST: Shape = Shape::Image { c: 1, h: 28, w: 28 };

    fn parse(text: &str) -> Vec<LayerSpec> {
        #[derive(Deserialize)]
        struct Doc {
            layers: Vec<LayerSpec>,
        }
        toml::from_str::<Doc>(text).expect("layers").layers
    }

    fn seed_cnn() -> Vec<LayerSpec> {
        parse(
            r#"layers = [
              { type = "conv2d", filters = 32, kernel = 3, activation = "relu" },
              { type = "maxpool", size = 2 },
              { type = "flatten" },
              { type = "dense", units = 128, activation = "relu" },
              { type = "dense", units = 10 },
            ]"#,
        )
    }

    #[test]
    fn infers_the_seed_models_shapes_and_parameters() {
        let summary = infer(&seed_cnn(), MNIST, 10).expect("valid");
        let shapes: Vec<String> = summary.rows.iter().map(|r| r.output.to_string()).collect();
        assert_eq!(
            shapes,
            ["(32, 26, 26)", "(32, 13, 13)", "(5408)", "(128)", "(10)"]
        );
        let names: Vec<&str> = summary.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["conv1", "maxpool", "flatten", "fc1", "fc2"]);
        assert_eq!(summary.total_params(), 693_962);
        assert_eq!(summary.rows[0].layer, "Conv2D(32, 3×3, relu)");
        let text = summary.lines().join("\n");
        assert!(
            text.contains("total: 693,962 trainable parameters"),
            "{text}"
        );
    }

    #[test]
    fn same_padding_strides_and_overlapping_pools() {
        let layers = parse(
            r#"layers = [
              { type = "conv2d", filters = 8, kernel = 5, padding = "same" },
              { type = "conv2d", filters = 8, kernel = 3, stride = 2, padding = "same" },
              { type = "maxpool", size = 3, stride = 2 },
              { type = "avgpool" },
              { type = "batchnorm" },
              { type = "flatten" },
              { type = "dropout", rate = 0.5 },
              { type = "dense", units = 10 },
            ]"#,
        );
        let summary = infer(&layers, MNIST, 10).expect("valid");
        let shapes: Vec<String> = summary.rows.iter().map(|r| r.output.to_string()).collect();
        // 28 same → 28; stride 2 same → ⌈28/2⌉ = 14; 3/2 pool → (14−3)/2+1 = 6; 2×2 → 3.
        assert_eq!(
            shapes,
            [
                "(8, 28, 28)",
                "(8, 14, 14)",
                "(8, 6, 6)",
                "(8, 3, 3)",
                "(8, 3, 3)",
                "(72)",
                "(72)",
                "(10)"
            ]
        );
        assert_eq!(summary.rows[4].params, 16);
    }

    #[test]
    fn refuses_each_layer_that_cannot_follow_the_one_before() {
        let cases: [(&str, usize, &str); 9] = [
            (
                r#"layers = [{ type = "dense", units = 10 }]"#,
                0,
                "dense needs flat input, but its input is the image (1, 28, 28)",
            ),
            (
                r#"layers = [{ type = "conv2d", filters = 4, kernel = 29 }, { type = "flatten" }, { type = "dense", units = 10 }]"#,
                0,
                "the 29×29 kernel is larger than its 28×28 input",
            ),
            (
                r#"layers = [{ type = "maxpool", size = 16 }, { type = "maxpool", size = 2 }, { type = "flatten" }, { type = "dense", units = 10 }]"#,
                1,
                "a 2×2 window does not fit its 1×1 input (1, 1, 1): it would leave 0×0",
            ),
            (
                r#"layers = [{ type = "flatten" }, { type = "conv2d", filters = 4, kernel = 3 }]"#,
                1,
                "conv2d needs an image (channels, height, width), but its input is flat (784)",
            ),
            (
                r#"layers = [{ type = "flatten" }, { type = "dense", units = 12 }]"#,
                1,
                "the last layer gives (12), but the dataset has 10 classes",
            ),
            (
                r#"layers = [{ type = "flatten" }, { type = "dropout", rate = 1.0 }]"#,
                1,
                "rate = 1: must be in [0, 1)",
            ),
            (
                r#"layers = [{ type = "conv2d", filters = 4, kernel = 4, padding = "same" }]"#,
                0,
                "padding = \"same\" needs an odd kernel, not 4",
            ),
            (
                r#"layers = [{ type = "flatten" }, { type = "dense", units = 0 }]"#,
                1,
                "units = 0: must be in 1..=65536",
            ),
            (r#"layers = []"#, 0, "the list is empty"),
        ];
        for (text, index, reason) in cases {
            let err = infer(&parse(text), MNIST, 10).expect_err(text);
            assert_eq!(err.index, index, "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
            assert!(err.to_string().starts_with(&format!("layers[{index}] (")));
        }
    }

    #[test]
    fn unknown_types_and_keys_are_refused_by_name() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            layers: Vec<LayerSpec>,
        }
        let err = toml::from_str::<Doc>(r#"layers = [{ type = "lstm", units = 4 }]"#)
            .expect_err("unknown type");
        assert!(err.to_string().contains("lstm"), "{err}");
        let err = toml::from_str::<Doc>(r#"layers = [{ type = "dense", units = 4, unit = 3 }]"#)
            .expect_err("unknown key");
        assert!(err.to_string().contains("unit"), "{err}");
        let err = toml::from_str::<Doc>(
            r#"layers = [{ type = "dense", units = 4, activation = "softmax" }]"#,
        )
        .expect_err("unknown activation");
        assert!(err.to_string().contains("softmax"), "{err}");
    }
}
